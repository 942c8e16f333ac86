// d(x/y)/dx = 1/y and d(x/y)/dy = -x/y^2, each times the gradient arriving at the output.
Value div(Value x, Value y) {
    Value out = new Value(x.data / y.data, List.of(x, y), "/");
    out.backward = () -> {
        x.grad += out.grad / y.data;
        y.grad += -x.data / (y.data * y.data) * out.grad;
    };
    return out;
}
