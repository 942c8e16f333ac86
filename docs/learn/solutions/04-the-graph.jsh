List<String> stillTraining(Sequential net, Variable input, Variable target) {
    net.namedParameters().forEach((name, p) -> p.requiresGrad(name.startsWith("2.")));
    new Losses.MSELoss().forward(net.forward(input), target).backward();
    List<String> names = new ArrayList<>();
    net.namedParameters().forEach((name, p) -> { if (p.grad() != null) names.add(name); });
    return names;
}
