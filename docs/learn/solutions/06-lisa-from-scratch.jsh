List<String> drawLayers(List<String> middle, int gamma, long seed) {
    List<String> all = new ArrayList<>(middle);
    Collections.shuffle(all, new java.util.Random(seed));
    return List.copyOf(all.subList(0, gamma));
}
