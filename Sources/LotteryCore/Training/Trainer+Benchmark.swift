extension Trainer {
    /// Steady-state training speed: steps per second of the real step loop (batch gather, forward, backward,
    /// optimizer update) on this trainer's data and spec, after `warmup` untimed steps. No evaluation.
    ///
    /// For `lth bench train`; results are not recorded anywhere, so timing is the only output.
    public func measureStepRate(widths: [Int], steps: Int, warmup: Int = 200) -> Double {
        _ = BLAS.configured
        precondition(steps >= 1 && warmup >= 0, "measureStepRate: steps \(steps), warmup \(warmup)")
        let model = MLP(widths: widths, initializer: spec.model.initializer, seed: spec.initSeed)
        let batch = spec.train.batch, features = data.train.features
        let net = Network<Float>(widths: widths, capacity: batch)
        net.load(model)
        let optimizer = Optimizer(kind: spec.train.optimizer, lr: spec.train.lr, momentum: spec.train.momentum, widths: widths)
        let input = UnsafeMutablePointer<Float>.allocate(capacity: batch * features)
        let labels = UnsafeMutablePointer<UInt8>.allocate(capacity: batch)
        defer {
            input.deallocate()
            labels.deallocate()
        }
        var order = Array(0..<data.train.count)
        var rng = LotteryRNG(seed: spec.orderSeed, stream: "order")
        var cursor = order.count
        var started = ContinuousClock.now
        data.train.images.withUnsafeBufferPointer { images in
            data.train.labels.withUnsafeBufferPointer { allLabels in
                for step in 0..<(warmup + steps) {
                    if step == warmup { started = .now }
                    if cursor + batch > order.count {
                        rng.shuffle(&order)
                        cursor = 0
                    }
                    for row in 0..<batch {
                        let index = order[cursor + row]
                        (input + row * features).update(from: images.baseAddress! + index * features, count: features)
                        labels[row] = allLabels[index]
                    }
                    cursor += batch
                    net.forward(input, rows: batch)
                    net.outputDelta(labels: labels, rows: batch)
                    net.backward(input, rows: batch)
                    optimizer.update(net)
                }
            }
        }
        let elapsed = started.duration(to: .now).components
        return Double(steps) / (Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
    }
}
