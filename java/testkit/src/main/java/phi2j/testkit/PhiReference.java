package phi2j.testkit;

import phi2j.format.safetensors.HfCheckpoint;
import phi2j.format.safetensors.SafetensorsFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent forward pass of transformers' {@code PhiForCausalLM}, in double precision, straight from the
 * safetensors weights: for each layer one LayerNorm feeds attention and the MLP in parallel; attention uses
 * partial rotary embeddings (the first {@code partial_rotary_factor} of each head, NeoX-style half rotation);
 * the MLP is fc1, {@code gelu_new}, fc2; the residual adds both; a final LayerNorm and {@code lm_head} (with
 * bias) give the logits. Written from the model definition, not from llama.cpp, to check the converter.
 * Holds all weights in memory: for small synthetic checkpoints.
 */
public final class PhiReference {
    private final int hidden;
    private final int heads;
    private final int headDim;
    private final int rotDim;
    private final int layers;
    private final int inter;
    private final int vocab;
    private final double eps;
    private final double theta;
    private final Map<String, float[]> w = new HashMap<>();
    private final List<List<double[]>> kCache = new ArrayList<>();
    private final List<List<double[]>> vCache = new ArrayList<>();

    public PhiReference(HfCheckpoint ckpt) {
        var c = ckpt.config();
        hidden = c.get("hidden_size").getAsInt();
        heads = c.get("num_attention_heads").getAsInt();
        headDim = hidden / heads;
        rotDim = (int) (c.get("partial_rotary_factor").getAsDouble() * headDim);
        layers = c.get("num_hidden_layers").getAsInt();
        inter = c.get("intermediate_size").getAsInt();
        vocab = c.get("vocab_size").getAsInt();
        eps = c.get("layer_norm_eps").getAsDouble();
        theta = c.has("rope_theta") ? c.get("rope_theta").getAsDouble() : 10000;
        for (String name : ckpt.tensorNames()) {
            w.put(name, load(ckpt, name));
        }
        reset();
    }

    private static float[] load(HfCheckpoint ckpt, String name) {
        SafetensorsFile.Tensor t = ckpt.tensor(name).orElseThrow();
        ByteBuffer b = ByteBuffer.allocate((int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(ckpt.fileOf(name), StandardOpenOption.READ)) {
            while (b.hasRemaining()) {
                ch.read(b, t.offset() + b.position());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        b.flip();
        float[] out = new float[(int) t.elements()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (t.dtype()) {
                case F32 -> b.getFloat();
                case F16 -> Half.toFloat(b.getShort());
                case BF16 -> Float.intBitsToFloat((b.getShort() & 0xffff) << 16);
                default -> throw new IllegalArgumentException(name + ": dtype " + t.dtype());
            };
        }
        return out;
    }

    /** Forgets the sequence so far. */
    public void reset() {
        kCache.clear();
        vCache.clear();
        for (int l = 0; l < layers; l++) {
            kCache.add(new ArrayList<>());
            vCache.add(new ArrayList<>());
        }
    }

    /** Logits for the token after {@code token}, which is appended to the sequence. */
    public double[] next(int token) {
        int pos = kCache.get(0).size();
        double[] x = new double[hidden];
        float[] emb = w.get("model.embed_tokens.weight");
        for (int i = 0; i < hidden; i++) {
            x[i] = emb[token * hidden + i];
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            double[] h = layerNorm(x, w.get(p + "input_layernorm.weight"), w.get(p + "input_layernorm.bias"));
            double[] q = linear(h, p + "self_attn.q_proj", hidden);
            double[] k = linear(h, p + "self_attn.k_proj", hidden);
            double[] v = linear(h, p + "self_attn.v_proj", hidden);
            rotate(q, pos);
            rotate(k, pos);
            kCache.get(l).add(k);
            vCache.get(l).add(v);
            double[] att = new double[hidden];
            for (int hd = 0; hd < heads; hd++) {
                int o = hd * headDim;
                double[] scores = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= pos; j++) {
                    double[] kj = kCache.get(l).get(j);
                    double s = 0;
                    for (int d = 0; d < headDim; d++) {
                        s += q[o + d] * kj[o + d];
                    }
                    scores[j] = s / Math.sqrt(headDim);
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j <= pos; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int j = 0; j <= pos; j++) {
                    double a = scores[j] / sum;
                    double[] vj = vCache.get(l).get(j);
                    for (int d = 0; d < headDim; d++) {
                        att[o + d] += a * vj[o + d];
                    }
                }
            }
            double[] attnOut = linear(att, p + "self_attn.dense", hidden);
            double[] up = linear(h, p + "mlp.fc1", inter);
            for (int i = 0; i < inter; i++) {
                up[i] = geluNew(up[i]);
            }
            double[] down = linear(up, p + "mlp.fc2", hidden);
            for (int i = 0; i < hidden; i++) {
                x[i] += attnOut[i] + down[i];
            }
        }
        double[] f = layerNorm(x, w.get("model.final_layernorm.weight"), w.get("model.final_layernorm.bias"));
        return linear(f, "lm_head", vocab);
    }

    /** Logits after a whole prompt (the sequence is reset first). */
    public double[] prompt(int[] tokens) {
        reset();
        double[] logits = null;
        for (int t : tokens) {
            logits = next(t);
        }
        return logits;
    }

    /** Greedy continuation of {@code n} tokens after {@code tokens}. */
    public int[] greedy(int[] tokens, int n) {
        double[] logits = prompt(tokens);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = argmax(logits);
            logits = next(out[i]);
        }
        return out;
    }

    public static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    public static double[] softmax(double[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (double l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** transformers' gelu_new: the tanh approximation. */
    static double geluNew(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    private void rotate(double[] v, int pos) {
        int half = rotDim / 2;
        for (int hd = 0; hd < heads; hd++) {
            int o = hd * headDim;
            for (int i = 0; i < half; i++) {
                double freq = Math.pow(theta, -2.0 * i / rotDim);
                double a = pos * freq;
                double c = Math.cos(a);
                double s = Math.sin(a);
                double x1 = v[o + i];
                double x2 = v[o + i + half];
                v[o + i] = x1 * c - x2 * s;
                v[o + i + half] = x2 * c + x1 * s;
            }
        }
    }

    private double[] layerNorm(double[] x, float[] g, float[] b) {
        double mean = 0;
        for (double v : x) {
            mean += v;
        }
        mean /= x.length;
        double var = 0;
        for (double v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= x.length;
        double inv = 1 / Math.sqrt(var + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (x[i] - mean) * inv * g[i] + b[i];
        }
        return y;
    }

    /** y = W x + b with W stored [out][in] (PyTorch's Linear). */
    private double[] linear(double[] x, String prefix, int out) {
        float[] m = w.get(prefix + ".weight");
        float[] bias = w.get(prefix + ".bias");
        int in = x.length;
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = bias[o];
            int row = o * in;
            for (int i = 0; i < in; i++) {
                s += m[row + i] * x[i];
            }
            y[o] = s;
        }
        return y;
    }

    /**
     * Logits from llama.cpp's pooled embedding of the last token: the final LayerNorm's output, but
     * L2-normalized by llama.cpp's server. The scale is recovered from what a LayerNorm output must satisfy,
     * (y - beta) / gamma having unit variance, then {@code lm_head} is applied here.
     */
    public double[] logitsFromNormalizedHidden(float[] u) {
        double s = layerNormScale(u, w.get("model.final_layernorm.weight"), w.get("model.final_layernorm.bias"));
        double[] y = new double[u.length];
        for (int i = 0; i < u.length; i++) {
            y[i] = s * u[i];
        }
        return linear(y, "lm_head", vocab);
    }

    /**
     * The length {@code s} such that {@code s * u} is a LayerNorm output with weight {@code gamma} and bias
     * {@code beta}: then {@code (s*u - beta) / gamma} has unit variance, a quadratic in {@code s} whose positive
     * root is taken. (The eps term shifts the variance by about eps / var, negligible here.)
     */
    public static double layerNormScale(float[] u, float[] gamma, float[] beta) {
        int n = u.length;
        double ma = 0;
        double mb = 0;
        for (int i = 0; i < n; i++) {
            ma += u[i] / gamma[i];
            mb += beta[i] / gamma[i];
        }
        ma /= n;
        mb /= n;
        double vaa = 0;
        double vab = 0;
        double vbb = 0;
        for (int i = 0; i < n; i++) {
            double a = u[i] / gamma[i] - ma;
            double c = beta[i] / gamma[i] - mb;
            vaa += a * a;
            vab += a * c;
            vbb += c * c;
        }
        vaa /= n;
        vab /= n;
        vbb /= n;
        return (vab + Math.sqrt(vab * vab - vaa * (vbb - 1))) / vaa;
    }
}
