package jlisa.finetune;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import jlisa.autograd.Parameter;
import jlisa.distributed.Collective;
import jlisa.optim.train.Trainer;
import jlisa.transformer.model.CausalLM;
import jlisa.transformer.model.Models;

/**
 * One rank of {@link DataParallelTest}'s jobs, started by mpirun: a fine-tune set up by {@code key=value} arguments
 * ({@link #builder}), printing on rank 0 each step's loss and the eval loss, and on every rank each step's bytes sent
 * beside the bytes the step's trained parameters hold. {@code fault=die@S} or {@code hang@S} makes rank 1 exit or
 * hang after step S; {@code seed1=N} gives rank 1 another seed (a bad launch).
 */
public final class DataParallelProbe {
    public static void main(String[] args) throws IOException {
        Map<String, String> o = new LinkedHashMap<>();
        for (String a : args) o.put(a.substring(0, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
        try (Collective c = Collective.fromEnvironment(Duration.ofSeconds(Long.parseLong(o.getOrDefault("timeout", "60"))));
             CausalLM lm = Models.load(Path.of(o.get("model")))) {
            int rank = c.rank();
            if (rank == 1 && o.containsKey("seed1")) o.put("seed", o.get("seed1"));
            String fault = o.getOrDefault("fault", "none@0");
            long faultStep = Long.parseLong(fault.substring(fault.indexOf('@') + 1));
            FineTuneResult r = builder(o).collective(c).listener(new FineTuneListener() {
                @Override public void onProgress(Progress p) {
                    if (rank == 0) System.out.println("loss " + p.step() + " " + p.loss());
                    if (rank == 1 && p.step() == faultStep) {
                        if (fault.startsWith("die")) Runtime.getRuntime().halt(7);
                        if (fault.startsWith("hang")) sleep();
                    }
                }

                @Override public void onLog(Trainer.Log log) {
                    long trained = 0;
                    for (Parameter p : lm.namedParameters().values()) if (p.requiresGrad()) trained += p.data().numel();
                    // the gradients and the 3-float header; every checksumEvery (2) steps the checksum's broadcast of
                    // 4 floats (sent by rank 0) and its sum of one float per rank
                    long check = log.step() % 2 == 0 ? (rank == 0 ? 4 : 0) + c.size() : 0;
                    System.out.println("bytes " + rank + " " + log.step() + " " + (long) log.bytesSentPerStep() + " "
                            + Float.BYTES * (trained + 3 + check));
                }
            }).build().run(lm);
            if (rank == 0 && r.evalLoss().isPresent()) System.out.println("eval " + r.evalLoss().getAsDouble());
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(600_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The fine-tune every rank (and the one-process reference) runs: method, batch, steps, seed, checkpoints. */
    static FineTune.Builder builder(Map<String, String> o) {
        Method method = switch (o.get("method")) {
            case "full" -> Method.full();
            case "lora" -> Method.lora().withRank(4);
            case "lisa" -> Method.lisa().withGamma(1).withPeriod(2);
            case "lisa-park" -> Method.lisa().withGamma(1).withPeriod(2).withPolicy(jlisa.optim.Lisa.StatePolicy.PARK);
            default -> throw new IllegalArgumentException("method " + o.get("method"));
        };
        FineTune.Builder b = FineTune.builder().jsonl(Path.of(o.get("data"))).method(method).learningRate(2e-3)
                .steps(Long.parseLong(o.get("steps"))).batchSize(Integer.parseInt(o.get("batch")))
                .seed(Long.parseLong(o.getOrDefault("seed", "1"))).logEvery(1).evalFraction(0.1).checksumEvery(2);
        if (o.containsKey("checkpoints")) b.checkpoints(Path.of(o.get("checkpoints")), 1).resume(true);
        if (o.containsKey("model")) b.model(Path.of(o.get("model")));
        return b;
    }
}
