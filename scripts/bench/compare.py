"""Side-by-side training speed: ours (`lth bench train`), TensorFlow and PyTorch.

--model lenet300-100 (default) or the paper's conv networks conv2|conv4|conv6. Run through scripts/bench/compare
(it sets up .venv-bench and the thread environment). Every measurement runs in its own process with --threads
threads (default 1: ours --trial-threads, torch.set_num_threads, TensorFlow intra-op; inter-op 1 everywhere),
frameworks alternating within each repetition so that a change of machine load hits all of them alike. The load
average is printed with every table: this machine is shared.

Workers (`--worker tf-step|torch-step|tf-conv-step|torch-conv-step|tf-trial`) are this same file run in a
subprocess; each prints one JSON line.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

WIDTHS = [784, 300, 100, 10]
BATCH = 60
LR = 1.2e-3

# The paper's conv networks (Frankle & Carbin 2019, Figure 2), as ours has them (ModelPreset.swift): 3x3 convs
# (padding 1) + ReLU, 2x2 max-pools, fully connected + ReLU, then the 10-way output layer; Adam learning rate.
CONV = {
    "conv2": (["conv64", "conv64", "pool", 256, 256], 2e-4),
    "conv4": (["conv64", "conv64", "pool", "conv128", "conv128", "pool", 256, 256], 3e-4),
    "conv6": (["conv64", "conv64", "pool", "conv128", "conv128", "pool", "conv256", "conv256", "pool", 256, 256], 3e-4),
}
MODELS = ["lenet300-100"] + list(CONV)
# Flags OpenBLAS's SkylakeX (AVX-512) kernels execute; without them OPENBLAS_CORETYPE=SkylakeX dies with SIGILL.
AVX512_FLAGS = ("avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd")


def missing_avx512(cpuinfo="/proc/cpuinfo"):
    """The AVX-512 flags the first CPU of `cpuinfo` lacks (all of them if it cannot be read)."""
    try:
        with open(cpuinfo) as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        flags = []
    return [flag for flag in AVX512_FLAGS if flag not in flags]


def synthetic(n, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def mnist(directory, split, start, n, name="mnist"):
    """`n` images (pixels / 255, as ours) and labels of MNIST's (or `name`'s: fashion-mnist has the same IDX
    layout) `train` or `t10k` split from `start` on."""
    import numpy as np

    folder = os.path.join(directory, name)
    images = np.fromfile(os.path.join(folder, f"{split}-images-idx3-ubyte"), dtype=np.uint8, offset=16)
    labels = np.fromfile(os.path.join(folder, f"{split}-labels-idx1-ubyte"), dtype=np.uint8, offset=8)
    images = images.reshape(-1, 784)[start:start + n].astype(np.float32) / 255
    return images, labels[start:start + n].astype(np.int64)


def data(args, which, n, seed):
    """Synthetic images, or with --mnist (--fashion) the real ones: `which` is train, validation or test."""
    if not (args.mnist or args.fashion):
        return synthetic(n, seed)
    split, start = {"train": ("train", 0), "validation": ("train", 55000), "test": ("t10k", 0)}[which]
    return mnist(args.mnist or args.fashion, split, start, n, "mnist" if args.mnist else "fashion-mnist")


def conv_data(args, n, seed):
    """`n` NCHW images and labels for a conv network: synthetic CIFAR-shaped 3x32x32 (uniform in [0, 1), as ours),
    or with --mnist / --fashion the real 1x28x28 training images."""
    import numpy as np

    if args.mnist or args.fashion:
        images, labels = mnist(args.mnist or args.fashion, "train", 0, n, "mnist" if args.mnist else "fashion-mnist")
        return images.reshape(n, 1, 28, 28), labels
    rng = np.random.default_rng(seed)
    return rng.random((n, 3, 32, 32), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def conv_init(rng, layers, channels, side):
    """Gaussian Glorot weights (conv HWIO with fans 9·in and 9·out, fc [in, out]) and the plan of the network:
    a list of ("conv", index) / ("pool",) / ("fc", index, relu)."""
    import numpy as np

    weights, plan = [], []
    for token in layers:
        if token == "pool":
            plan.append(("pool",))
            side //= 2
        elif isinstance(token, str):
            out = int(token[4:])
            std = np.sqrt(2.0 / (9 * channels + 9 * out))
            weights.append((rng.standard_normal((3, 3, channels, out)) * std).astype(np.float32))
            plan.append(("conv", len(weights) - 1))
            channels = out
        else:
            fan_in = channels * side * side if channels else weights[-1].shape[1]
            weights.append(glorot(rng, fan_in, token))
            plan.append(("fc", len(weights) - 1, True))
            channels = 0
    weights.append(glorot(rng, weights[-1].shape[1], 10))
    plan.append(("fc", len(weights) - 1, False))
    return weights, plan


def batch_order(rng, n, steps):
    """Batch indices: shuffled epochs of `n` images, enough for `steps` batches."""
    import numpy as np

    per_epoch = n // BATCH
    order = np.concatenate([rng.permutation(n)[: per_epoch * BATCH] for _ in range(steps // per_epoch + 2)])
    return order.reshape(-1, BATCH)


def glorot(rng, fan_in, fan_out):
    import numpy as np

    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))).astype(np.float32)


# ---------------------------------------------------------------------------------------------------- TensorFlow


def tf_setup(threads=1):
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.set_visible_devices([], "GPU")
    return tf


class TFNet:
    """LeNet-300-100 as raw variables, masked Adam (gradient ⊙ mask before the optimizer), tf.function step.

    Built once; `reset` starts a round (rewound weights, new masks, fresh Adam state) without retracing.
    """

    def __init__(self, tf, init, masked=False):
        self.tf = tf
        self.w = [tf.Variable(w) for w in init]
        self.b = [tf.Variable(tf.zeros([w.shape[1]])) for w in init]
        self.m = [tf.Variable(tf.ones_like(w)) for w in init] if masked else None
        self.opt = tf.keras.optimizers.Adam(learning_rate=LR, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
        self.params = self.w + self.b
        self.opt.build(self.params)

        def logits(x):
            h = x
            for i, (w, b) in enumerate(zip(self.w, self.b)):
                h = tf.matmul(h, w) + b
                if i < len(self.w) - 1:
                    h = tf.nn.relu(h)
            return h

        def step(images, labels, idx):
            x = tf.gather(images, idx)
            y = tf.gather(labels, idx)
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(x)))
            grads = tape.gradient(loss, self.params)
            if self.m is not None:
                grads = [g * m for g, m in zip(grads[: len(self.w)], self.m)] + grads[len(self.w):]
            self.opt.apply_gradients(zip(grads, self.params))
            return loss

        def evaluate(x, y):
            z = logits(x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z))
            acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(z, 1), y), tf.float32))
            return loss, acc

        self.step = tf.function(step)
        self.evaluate = tf.function(evaluate, input_signature=[tf.TensorSpec([None, 784], tf.float32),
                                                               tf.TensorSpec([None], tf.int64)])

    def reset(self, weights, masks):
        for v, w in zip(self.w, weights):
            v.assign(w)
        for v in self.b:
            v.assign(self.tf.zeros_like(v))
        for v, m in zip(self.m, masks):
            v.assign(m)
        for v in self.opt.variables:
            v.assign(self.tf.zeros_like(v))


def tf_step(args):
    import numpy as np

    tf = tf_setup(args.threads)
    rng = np.random.default_rng(0)
    images, labels = data(args, "train", 6000, 1)
    images, labels = tf.constant(images), tf.constant(labels)
    net = TFNet(tf, [glorot(rng, a, b) for a, b in zip(WIDTHS, WIDTHS[1:])])
    order = np.concatenate([rng.permutation(6000)[: 6000 // BATCH * BATCH] for _ in range((args.steps + args.warmup) // 100 + 2)])
    batches = tf.constant(order.reshape(-1, BATCH))
    for s in range(args.warmup):
        net.step(images, labels, batches[s])
    t, c = time.perf_counter(), time.process_time()
    for s in range(args.warmup, args.warmup + args.steps):
        loss = net.step(images, labels, batches[s])
    float(loss)
    return {"steps_per_second": args.steps / (time.perf_counter() - t),
            "steps_per_cpu_second": args.steps / (time.process_time() - c), "version": tf.__version__}


def tf_conv_step(args):
    """A conv network's training step: raw variables, tf.nn.conv2d (NHWC, SAME) in a tf.function, Keras Adam."""
    import numpy as np

    tf = tf_setup(args.threads)
    layers, lr = CONV[args.model]
    rng = np.random.default_rng(0)
    n = 600
    images, labels = conv_data(args, n, 1)
    weights, plan = conv_init(rng, layers, images.shape[1], images.shape[2])
    images, labels = tf.constant(images.transpose(0, 2, 3, 1).copy()), tf.constant(labels)
    w = [tf.Variable(x) for x in weights]
    b = [tf.Variable(tf.zeros([x.shape[-1]])) for x in weights]
    params = w + b
    opt = tf.keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    opt.build(params)

    def logits(x):
        h = x
        for layer in plan:
            if layer[0] == "conv":
                h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, w[layer[1]], 1, "SAME"), b[layer[1]]))
            elif layer[0] == "pool":
                h = tf.nn.max_pool2d(h, 2, 2, "VALID")
            else:
                if len(h.shape) == 4:
                    h = tf.reshape(h, [-1, h.shape[1] * h.shape[2] * h.shape[3]])
                h = tf.matmul(h, w[layer[1]]) + b[layer[1]]
                if layer[2]:
                    h = tf.nn.relu(h)
        return h

    @tf.function
    def step(idx):
        x = tf.gather(images, idx)
        y = tf.gather(labels, idx)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits(x)))
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    batches = tf.constant(batch_order(rng, n, args.steps + args.warmup))
    for s in range(args.warmup):
        step(batches[s])
    t, c = time.perf_counter(), time.process_time()
    for s in range(args.warmup, args.warmup + args.steps):
        loss = step(batches[s])
    float(loss)
    return {"steps_per_second": args.steps / (time.perf_counter() - t),
            "steps_per_cpu_second": args.steps / (time.process_time() - c), "version": tf.__version__,
            "input": list(images.shape[1:])}


def tf_trial(args):
    """Shortened IMP trial: the same loop as `lth bench train --trial`."""
    import numpy as np

    tf = tf_setup()
    rng = np.random.default_rng(0)
    tr_x, tr_y = data(args, "train", 55000, 1)
    va_x, va_y = data(args, "validation", 5000, 2)
    te_x, te_y = data(args, "test", 10000, 3)
    tr_x, tr_y, va_x, va_y, te_x, te_y = map(tf.constant, (tr_x, tr_y, va_x, va_y, te_x, te_y))
    init = [glorot(rng, a, b) for a, b in zip(WIDTHS, WIDTHS[1:])]
    masks = [np.ones_like(w) for w in init]
    rates = [0.2, 0.2, 0.1]
    total = 0.0
    cpu_start = time.process_time()
    rounds = []
    net = TFNet(tf, init, masked=True)
    for r in range(args.rounds):
        start = time.perf_counter()
        net.reset([w * m for w, m in zip(init, masks)], masks)
        perm_rng = np.random.default_rng(7)
        order, cursor = None, 55000
        for it in range(1, args.iterations + 1):
            if cursor + BATCH > 55000:
                order, cursor = perm_rng.permutation(55000), 0
            net.step(tr_x, tr_y, tf.constant(order[cursor:cursor + BATCH]))
            cursor += BATCH
            if it % args.eval_every == 0 or it == args.iterations:
                net.evaluate(va_x, va_y)
                _, test_acc = net.evaluate(te_x, te_y)
        net.evaluate(tr_x, tr_y)
        seconds = time.perf_counter() - start
        total += seconds
        weights = [w.numpy() for w in net.w]
        density = sum(m.sum() for m in masks) / sum(m.size for m in masks)
        rounds.append({"round": r, "density": float(density), "seconds": seconds})
        new = []
        for w, m, rate in zip(weights, masks, rates):
            kept = np.flatnonzero(m)
            keep = int(round(len(kept) * (1 - rate)))
            order_k = kept[np.argsort(-np.abs(w.ravel()[kept]), kind="stable")][:keep]
            nm = np.zeros(m.size, dtype=np.float32)
            nm[order_k] = 1
            new.append(nm.reshape(m.shape))
        masks = new
    return {"trial_seconds": total, "trial_cpu_seconds": time.process_time() - cpu_start, "rounds": rounds,
            "version": tf.__version__}


# ------------------------------------------------------------------------------------------------------- PyTorch


def torch_step(args):
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    rng = np.random.default_rng(0)
    images, labels = data(args, "train", 6000, 1)
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    w = [torch.tensor(glorot(rng, a, b).T.copy(), requires_grad=True) for a, b in zip(WIDTHS, WIDTHS[1:])]
    b = [torch.zeros(n, requires_grad=True) for n in WIDTHS[1:]]
    opt = torch.optim.Adam(w + b, lr=LR, betas=(0.9, 0.999), eps=1e-8)
    order = np.concatenate([rng.permutation(6000)[: 6000 // BATCH * BATCH] for _ in range((args.steps + args.warmup) // 100 + 2)])
    batches = torch.from_numpy(order.reshape(-1, BATCH))
    F = torch.nn.functional

    def step(s):
        idx = batches[s]
        h = images[idx]
        for i in range(3):
            h = F.linear(h, w[i], b[i])
            if i < 2:
                h = F.relu(h)
        loss = F.cross_entropy(h, labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for s in range(args.warmup):
        step(s)
    t, c = time.perf_counter(), time.process_time()
    for s in range(args.warmup, args.warmup + args.steps):
        loss = step(s)
    loss.item()
    return {"steps_per_second": args.steps / (time.perf_counter() - t),
            "steps_per_cpu_second": args.steps / (time.process_time() - c), "version": torch.__version__,
            "cuda": torch.cuda.is_available(), "threads": torch.get_num_threads()}


def torch_conv_step(args):
    """A conv network's training step in eager PyTorch: nn.Conv2d (3x3, padding 1) + ReLU, MaxPool2d(2), Linear."""
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    nn = torch.nn
    layers, lr = CONV[args.model]
    rng = np.random.default_rng(0)
    n = 600
    images, labels = conv_data(args, n, 1)
    weights, plan = conv_init(rng, layers, images.shape[1], images.shape[2])
    modules = []
    for layer in plan:
        if layer[0] == "conv":
            x = weights[layer[1]]
            conv = nn.Conv2d(x.shape[2], x.shape[3], 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(x.transpose(3, 2, 0, 1).copy()))
                conv.bias.zero_()
            modules += [conv, nn.ReLU()]
        elif layer[0] == "pool":
            modules.append(nn.MaxPool2d(2))
        else:
            x = weights[layer[1]]
            if not any(isinstance(m, nn.Linear) for m in modules):
                modules.append(nn.Flatten())
            fc = nn.Linear(x.shape[0], x.shape[1])
            with torch.no_grad():
                fc.weight.copy_(torch.from_numpy(x.T.copy()))
                fc.bias.zero_()
            modules.append(fc)
            if layer[2]:
                modules.append(nn.ReLU())
    net = nn.Sequential(*modules)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8)
    images, labels = torch.from_numpy(images), torch.from_numpy(labels)
    batches = torch.from_numpy(batch_order(rng, n, args.steps + args.warmup))

    def step(s):
        idx = batches[s]
        loss = nn.functional.cross_entropy(net(images[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    for s in range(args.warmup):
        step(s)
    t, c = time.perf_counter(), time.process_time()
    for s in range(args.warmup, args.warmup + args.steps):
        loss = step(s)
    loss.item()
    return {"steps_per_second": args.steps / (time.perf_counter() - t),
            "steps_per_cpu_second": args.steps / (time.process_time() - c), "version": torch.__version__,
            "cuda": torch.cuda.is_available(), "threads": torch.get_num_threads(), "input": list(images.shape[1:])}


# ---------------------------------------------------------------------------------------------------- driver


def load():
    return os.getloadavg()[0]


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    lines = [l for l in out.splitlines() if l.startswith("{")]
    return [json.loads(l) for l in lines]


def stats(xs):
    return min(xs), statistics.median(xs), max(xs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--worker")
    p.add_argument("--lth", default=".build/release/lth")
    p.add_argument("--model", choices=MODELS, default="lenet300-100")
    p.add_argument("--threads", type=int, default=1,
                   help="threads per measurement: ours --trial-threads, torch.set_num_threads, TensorFlow intra-op")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--no-trial", action="store_true")
    p.add_argument("--trial-rounds", dest="rounds", type=int, default=19)
    p.add_argument("--trial-iterations", dest="iterations", type=int, default=2000)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--frameworks", default="ours,ours-avx512blas,tensorflow,pytorch")
    source_group = p.add_mutually_exclusive_group()
    source_group.add_argument("--mnist", metavar="DIR",
                              help="real MNIST from DIR/mnist (as `lth data` lays it out) instead of synthetic images, "
                                   "for all")
    source_group.add_argument("--fashion", metavar="DIR",
                              help="real Fashion-MNIST from DIR/fashion-mnist (1x28x28) instead of synthetic images, "
                                   "for all (ours: lth bench train --mnist DIR --dataset fashion-mnist)")
    args = p.parse_args()
    if args.threads < 1:
        p.error("--threads must be ≥ 1")

    if args.worker:
        result = {"tf-step": tf_step, "torch-step": torch_step, "tf-conv-step": tf_conv_step,
                  "torch-conv-step": torch_conv_step, "tf-trial": tf_trial}[args.worker](args)
        print(json.dumps(result))
        return

    conv = args.model in CONV
    lr = CONV[args.model][1] if conv else LR
    me = [sys.executable, __file__]
    source = ["--mnist", args.mnist] if args.mnist else ["--fashion", args.fashion] if args.fashion else []
    ours = [args.lth, "bench", "train", "--json", "--steps", str(args.steps), "--warmup", str(args.warmup)]
    ours += (["--model", args.model] if conv else []) + (["--trial-threads", str(args.threads)] if args.threads > 1 else [])
    ours += ["--mnist", args.mnist] if args.mnist else ["--mnist", args.fashion, "--dataset", "fashion-mnist"] if args.fashion else []
    worker = ["--steps", str(args.steps), "--warmup", str(args.warmup), "--model", args.model,
              "--threads", str(args.threads)] + source
    commands = {
        "ours": ours,
        # The same binary with OpenBLAS's AVX-512 kernels (its default on AMD Zen 4 is the AVX2 Haswell kernel).
        "ours-avx512blas": ["env", "OPENBLAS_CORETYPE=SkylakeX"] + ours,
        "tensorflow": me + ["--worker", "tf-conv-step" if conv else "tf-step"] + worker,
        "pytorch": me + ["--worker", "torch-conv-step" if conv else "torch-step"] + worker,
    }
    names = [n for n in args.frameworks.split(",") if n in commands]
    missing = missing_avx512()
    if missing and "ours-avx512blas" in names:
        names.remove("ours-avx512blas")
        print(f"compare: this CPU lacks {', '.join(missing)}: leaving out ours-avx512blas (OPENBLAS_CORETYPE=SkylakeX "
              f"would die with SIGILL)", file=sys.stderr)
    # Ours: OpenBLAS one thread (its --threads default), parallelism from --trial-threads. The frameworks: their
    # intra-op pools (and OpenMP/MKL, should they use them) get --threads.
    n_threads = str(args.threads)
    framework_env = dict(os.environ, OMP_NUM_THREADS=n_threads, MKL_NUM_THREADS=n_threads,
                         TF_NUM_INTRAOP_THREADS=n_threads, TF_NUM_INTEROP_THREADS="1")
    envs = {"tensorflow": framework_env, "pytorch": framework_env}
    rates = {n: [] for n in names}
    cpu_rates = {n: [] for n in names}
    loads = []
    versions = {}
    for rep in range(args.reps):
        for n in names:
            loads.append(load())
            try:
                r = run_json(commands[n], envs.get(n))[0]
            except (subprocess.CalledProcessError, FileNotFoundError) as e:
                print(f"compare: {n} failed: {e}", file=sys.stderr)
                continue
            rates[n].append(r["steps_per_second"])
            cpu_rates[n].append(r["steps_per_cpu_second"])
            versions[n] = r["version"] if "version" in r else f"(blas_core {r.get('blas_core', '?')})"
            print(f"  rep {rep + 1}/{args.reps} {n:<15} {r['steps_per_second']:8.1f} steps/s wall, "
                  f"{r['steps_per_cpu_second']:8.1f} per CPU second  (load {loads[-1]:.2f}"
                  + (f", blas_core {r['blas_core']}" if "blas_core" in r else "") + ")", file=sys.stderr)
    loads.append(load())
    lo, mid, hi = stats(loads)
    if conv:
        images = ("real Fashion-MNIST 1x28x28" if args.fashion else "real MNIST 1x28x28" if args.mnist
                  else "synthetic 3x32x32")
    else:
        images = "real Fashion-MNIST" if args.fashion else "MNIST" if args.mnist else "synthetic"
    threads = "one thread" if args.threads == 1 else f"{args.threads} threads"
    title = "LeNet-300-100" if not conv else f"{args.model.capitalize()[:-1]}-{args.model[-1]}"
    print(f"\nTraining step, {title}, batch {BATCH}, Adam lr {lr:g}, {threads}, {images} images; "
          f"{args.reps} reps × {args.steps} steps after {args.warmup}; "
          f"1-min load min/median/max {lo:.2f}/{mid:.2f}/{hi:.2f}; {os.cpu_count()} CPUs")
    if missing:
        print(f"(ours-avx512blas left out: the CPU lacks {', '.join(missing)})")
    for title, table in (("steps per CPU second (process CPU time: time slices lost to other load do not count)", cpu_rates),
                         ("steps per wall-clock second", rates)):
        print(f"\n{title}\n")
        print("| framework | min | median | max | ours/theirs min | median | max | ours-avx512blas/theirs median |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for n in names:
            if not table[n]:
                print(f"| {n} | failed | | | | | | |")
                continue
            a, b, c = stats(table[n])
            cells = ["", "", "", ""]
            if not n.startswith("ours"):
                if table.get("ours"):
                    r = stats([o / t for o, t in zip(table["ours"], table[n])])
                    cells[:3] = [f"{x:.2f}" for x in r]
                if table.get("ours-avx512blas"):
                    cells[3] = f"{stats([o / t for o, t in zip(table['ours-avx512blas'], table[n])])[1]:.2f}"
            label = f"{n} {versions.get(n, '')}".strip()
            print(f"| {label} | {a:.1f} | {b:.1f} | {c:.1f} | " + " | ".join(cells) + " |")

    if args.no_trial:
        return
    if conv or args.fashion:
        print(f"\n(no shortened IMP trial: `lth bench train --trial` runs LeNet-300-100 on synthetic data or MNIST only)")
        return
    print(f"\nShortened IMP trial, one thread: {args.rounds} rounds × {args.iterations} iterations, eval every {args.eval_every} "
          f"on 5,000 + 10,000 images, final train accuracy on 55,000; "
          f"{'real MNIST' if args.mnist else 'synthetic data of MNIST shape'}\n")
    print("| run | wall seconds | CPU seconds | load before | load after |")
    print("|---|---:|---:|---:|---:|")
    trial = ["--rounds", str(args.rounds), "--iterations", str(args.iterations), "--eval-every", str(args.eval_every)]
    trial += source
    runs = [
        ("ours, kernels auto", [args.lth, "bench", "train", "--trial", "--json", "--kernels", "auto"] + trial),
        ("ours, kernels dense", [args.lth, "bench", "train", "--trial", "--json", "--kernels", "dense"] + trial),
    ]
    if not missing:
        runs += [
            ("ours, kernels auto, OPENBLAS_CORETYPE=SkylakeX",
             ["env", "OPENBLAS_CORETYPE=SkylakeX", args.lth, "bench", "train", "--trial", "--json", "--kernels", "auto"]
             + trial),
            ("ours, kernels dense, OPENBLAS_CORETYPE=SkylakeX",
             ["env", "OPENBLAS_CORETYPE=SkylakeX", args.lth, "bench", "train", "--trial", "--json", "--kernels", "dense"]
             + trial),
        ]
    runs.append(("tensorflow tf.function", me + ["--worker", "tf-trial", "--trial-rounds", str(args.rounds),
                                                 "--trial-iterations", str(args.iterations),
                                                 "--eval-every", str(args.eval_every)] + source))
    for label, cmd in runs:
        before = load()
        try:
            out = run_json(cmd)
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            print(f"| {label} | failed: {e} | | | |")
            continue
        summary = next(o for o in out if "trial_seconds" in o)
        print(f"| {label} | {summary['trial_seconds']:.1f} | {summary['trial_cpu_seconds']:.1f} | {before:.2f} | {load():.2f} |")


if __name__ == "__main__":
    main()
