// d/dx log(1 + e^x) = e^x / (1 + e^x) = sigmoid(x); chain rule: times g.
Tensor softplusBackward(Tensor x, Tensor g) {
    return g.mul(x.sigmoid());
}
