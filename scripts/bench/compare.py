"""Side-by-side LeNet-300-100 training speed: ours (`lth bench train`), TensorFlow and PyTorch.

Run through scripts/bench/compare (it sets up .venv-bench and the one-thread environment). Every measurement
runs in its own process, one thread each, frameworks alternating within each repetition so that a change of
machine load hits all of them alike. The load average is printed with every table: this machine is shared.

Workers (`--worker tf-step|torch-step|tf-trial`) are this same file run in a subprocess; each prints one JSON line.
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


def synthetic(n, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)


def mnist(directory, split, start, n):
    """`n` images (pixels / 255, as ours) and labels of MNIST's `train` or `t10k` split from `start` on."""
    import numpy as np

    folder = os.path.join(directory, "mnist")
    images = np.fromfile(os.path.join(folder, f"{split}-images-idx3-ubyte"), dtype=np.uint8, offset=16)
    labels = np.fromfile(os.path.join(folder, f"{split}-labels-idx1-ubyte"), dtype=np.uint8, offset=8)
    images = images.reshape(-1, 784)[start:start + n].astype(np.float32) / 255
    return images, labels[start:start + n].astype(np.int64)


def data(args, which, n, seed):
    """Synthetic images, or with --mnist the real ones: `which` is train, validation or test."""
    if not args.mnist:
        return synthetic(n, seed)
    split, start = {"train": ("train", 0), "validation": ("train", 55000), "test": ("t10k", 0)}[which]
    return mnist(args.mnist, split, start, n)


def glorot(rng, fan_in, fan_out):
    import numpy as np

    return (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))).astype(np.float32)


# ---------------------------------------------------------------------------------------------------- TensorFlow


def tf_setup():
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
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

    tf = tf_setup()
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

    torch.set_num_threads(1)
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


# ---------------------------------------------------------------------------------------------------- driver


def load():
    return os.getloadavg()[0]


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.startswith("{")]
    return [json.loads(l) for l in lines]


def stats(xs):
    return min(xs), statistics.median(xs), max(xs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--worker")
    p.add_argument("--lth", default=".build/release/lth")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--no-trial", action="store_true")
    p.add_argument("--trial-rounds", dest="rounds", type=int, default=19)
    p.add_argument("--trial-iterations", dest="iterations", type=int, default=2000)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--frameworks", default="ours,ours-avx512blas,tensorflow,pytorch")
    p.add_argument("--mnist", metavar="DIR",
                   help="real MNIST from DIR/mnist (as `lth data` lays it out) instead of synthetic images, for all")
    args = p.parse_args()

    if args.worker:
        result = {"tf-step": tf_step, "torch-step": torch_step, "tf-trial": tf_trial}[args.worker](args)
        print(json.dumps(result))
        return

    me = [sys.executable, __file__]
    source = ["--mnist", args.mnist] if args.mnist else []
    ours = [args.lth, "bench", "train", "--json", "--steps", str(args.steps), "--warmup", str(args.warmup)] + source
    commands = {
        "ours": ours,
        # The same binary with OpenBLAS's AVX-512 kernels (its default on AMD Zen 4 is the AVX2 Haswell kernel).
        "ours-avx512blas": ["env", "OPENBLAS_CORETYPE=SkylakeX"] + ours,
        "tensorflow": me + ["--worker", "tf-step", "--steps", str(args.steps), "--warmup", str(args.warmup)] + source,
        "pytorch": me + ["--worker", "torch-step", "--steps", str(args.steps), "--warmup", str(args.warmup)] + source,
    }
    names = [n for n in args.frameworks.split(",") if n in commands]
    rates = {n: [] for n in names}
    cpu_rates = {n: [] for n in names}
    loads = []
    versions = {}
    for rep in range(args.reps):
        for n in names:
            loads.append(load())
            try:
                r = run_json(commands[n])[0]
            except (subprocess.CalledProcessError, FileNotFoundError) as e:
                print(f"compare: {n} failed: {e}", file=sys.stderr)
                continue
            rates[n].append(r["steps_per_second"])
            cpu_rates[n].append(r["steps_per_cpu_second"])
            versions[n] = r.get("version", r.get("blas_core", ""))
            print(f"  rep {rep + 1}/{args.reps} {n:<10} {r['steps_per_second']:8.1f} steps/s wall, "
                  f"{r['steps_per_cpu_second']:8.1f} per CPU second  (load {loads[-1]:.2f})", file=sys.stderr)
    loads.append(load())
    lo, mid, hi = stats(loads)
    print(f"\nTraining step, LeNet-300-100, batch {BATCH}, Adam, one thread, {'MNIST' if args.mnist else 'synthetic'} "
          f"images; {args.reps} reps × {args.steps} steps after {args.warmup}; "
          f"1-min load min/median/max {lo:.2f}/{mid:.2f}/{hi:.2f}")
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
    print(f"\nShortened IMP trial: {args.rounds} rounds × {args.iterations} iterations, eval every {args.eval_every} "
          f"on 5,000 + 10,000 images, final train accuracy on 55,000; "
          f"{'real MNIST' if args.mnist else 'synthetic data of MNIST shape'}\n")
    print("| run | wall seconds | CPU seconds | load before | load after |")
    print("|---|---:|---:|---:|---:|")
    trial = ["--rounds", str(args.rounds), "--iterations", str(args.iterations), "--eval-every", str(args.eval_every)]
    trial += source
    runs = [
        ("ours, kernels auto", [args.lth, "bench", "train", "--trial", "--json", "--kernels", "auto"] + trial),
        ("ours, kernels dense", [args.lth, "bench", "train", "--trial", "--json", "--kernels", "dense"] + trial),
        ("ours, kernels auto, OPENBLAS_CORETYPE=SkylakeX",
         ["env", "OPENBLAS_CORETYPE=SkylakeX", args.lth, "bench", "train", "--trial", "--json", "--kernels", "auto"] + trial),
        ("ours, kernels dense, OPENBLAS_CORETYPE=SkylakeX",
         ["env", "OPENBLAS_CORETYPE=SkylakeX", args.lth, "bench", "train", "--trial", "--json", "--kernels", "dense"] + trial),
        ("tensorflow tf.function", me + ["--worker", "tf-trial", "--trial-rounds", str(args.rounds),
                                         "--trial-iterations", str(args.iterations), "--eval-every", str(args.eval_every)]
                                        + source),
    ]
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
