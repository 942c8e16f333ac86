Variable rmsNorm(Variable x, Variable gamma, double eps) { return x.div(x.pow(2).mean(true, 2).add(eps).sqrt()).mul(gamma); }
