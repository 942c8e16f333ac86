/** Neural-network modules (layers with parameters) on autograd, without any model-file format. */
module jlisa.nn {
    requires transitive jlisa.autograd;

    exports jlisa.nn;
}
