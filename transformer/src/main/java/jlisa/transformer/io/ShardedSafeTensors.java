package jlisa.transformer.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import jlisa.tensor.MemoryKind;
import jlisa.tensor.Tensor;

/**
 * A checkpoint split over several safetensors files, as Hugging Face writes large models:
 * {@code model.safetensors.index.json} holds {@code {"metadata": {...}, "weight_map": {"name":
 * "model-00001-of-00002.safetensors", ...}}}. Each shard is opened once, when the index is read.
 */
final class ShardedSafeTensors implements TensorSource {
    private final Path index;
    private final Map<String, SafeTensorsFile> byTensor;   // tensor name → its shard
    private final Map<String, SafeTensorsFile> shards;     // shard file name → the open shard
    private final Map<String, String> metadata;

    private ShardedSafeTensors(Path index, Map<String, SafeTensorsFile> byTensor, Map<String, SafeTensorsFile> shards,
            Map<String, String> metadata) {
        this.index = index;
        this.byTensor = Collections.unmodifiableMap(byTensor);
        this.shards = shards;
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    static ShardedSafeTensors open(Path index) throws IOException {
        JsonNode root;
        try {
            root = SafeTensorsFile.JSON.readTree(Files.readAllBytes(index));
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + " column " + at.getColumnNr();
            throw new SafeTensorsException(index + ": index JSON does not parse" + where + ": " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafeTensorsException(index + ": expected a JSON object with \"weight_map\", found "
                    + (root == null ? "nothing" : root.getNodeType()));
        }
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new SafeTensorsException(index + ": expected \"weight_map\" to be an object of tensor name → shard file, found "
                    + (weightMap == null ? "no \"weight_map\"" : weightMap.getNodeType() + " " + weightMap));
        }
        Map<String, String> metadata = new TreeMap<>();
        JsonNode meta = root.get("metadata");
        if (meta != null && meta.isObject()) {
            for (Map.Entry<String, JsonNode> m : meta.properties()) {
                JsonNode v = m.getValue();
                metadata.put(m.getKey(), v.isTextual() ? v.textValue() : v.toString());   // e.g. total_size, a number
            }
        }

        Path dir = index.toAbsolutePath().getParent();
        Map<String, SafeTensorsFile> shards = new TreeMap<>();
        Map<String, SafeTensorsFile> byTensor = new TreeMap<>();
        try {
            for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
                String name = e.getKey();
                JsonNode shardNode = e.getValue();
                if (!shardNode.isTextual()) {
                    throw new SafeTensorsException(index + ": weight_map[\"" + name + "\"] must be a shard file name, found "
                            + shardNode);
                }
                String shardName = shardNode.textValue();
                Path shardPath = dir.resolve(shardName).normalize();
                if (shardName.isEmpty() || !dir.equals(shardPath.getParent())) {
                    throw new SafeTensorsException(index + ": weight_map[\"" + name + "\"] names \"" + shardName
                            + "\", which is not a file name in " + dir);
                }
                SafeTensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    if (!Files.isRegularFile(shardPath)) {
                        throw new SafeTensorsException(index + ": shard \"" + shardName + "\" (holding \"" + name
                                + "\") does not exist in " + dir);
                    }
                    shard = SafeTensorsFile.open(shardPath);
                    shards.put(shardName, shard);
                }
                if (!shard.contains(name)) {
                    throw new SafeTensorsException(index + ": weight_map puts \"" + name + "\" in " + shardName
                            + ", but that shard has no such tensor");
                }
                byTensor.put(name, shard);
            }
        } catch (RuntimeException | IOException e) {
            shards.values().forEach(SafeTensorsFile::close);
            throw e;
        }
        return new ShardedSafeTensors(index, byTensor, shards, metadata);
    }

    /** The names listed in the index's weight_map. */
    @Override public Set<String> names() { return byTensor.keySet(); }

    @Override public boolean contains(String name) { return byTensor.containsKey(name); }

    @Override public TensorInfo info(String name) { return shard(name).info(name); }

    /** The index's "metadata" object, values as text (e.g. total_size). */
    @Override public Map<String, String> metadata() { return metadata; }

    @Override public Tensor tensor(String name, MemoryKind kind) { return shard(name).tensor(name, kind); }

    /** The number of shard files opened. */
    int shardCount() { return shards.size(); }

    private SafeTensorsFile shard(String name) {
        SafeTensorsFile s = byTensor.get(name);
        if (s == null) {
            throw new SafeTensorsException(index + ": no tensor named \"" + name + "\" in the weight_map ("
                    + byTensor.size() + " tensors)");
        }
        return s;
    }

    @Override public void close() { shards.values().forEach(SafeTensorsFile::close); }

    @Override public String toString() {
        return "ShardedSafeTensors(" + index + ", " + byTensor.size() + " tensors in " + shards.size() + " shards)";
    }
}
