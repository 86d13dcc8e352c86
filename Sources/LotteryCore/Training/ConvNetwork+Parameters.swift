// ConvNetwork's parameters and images in and out: a model's weights, biases and masks, and NHWC batches.
extension ConvNetwork {
    /// Copies a model's parameters and masks in, enforcing `weight = weight ⊙ mask`.
    func load(_ model: MLP) {
        precondition(model.architecture == architecture, "ConvNetwork.load: the model has another architecture")
        for l in model.layers.indices {
            let layer = model.layers[l]
            layer.weight.data.withUnsafeBufferPointer { w in
                layer.mask.data.withUnsafeBufferPointer { m in
                    for i in 0..<w.count { weights[l][i] = T(w[i] * m[i]); masks[l][i] = T(m[i]) }
                }
            }
            for j in layer.bias.indices { biases[l][j] = T(layer.bias[j]) }
        }
    }

    /// Writes the current parameters back into `model` (masks unchanged).
    func store(into model: inout MLP) {
        for l in model.layers.indices {
            let count = architecture.weightLayers[l].count
            model.layers[l].weight.data.withUnsafeMutableBufferPointer { w in
                for i in 0..<count { w[i] = Float(weights[l][i]) }
            }
            model.layers[l].bias.withUnsafeMutableBufferPointer { b in
                for j in b.indices { b[j] = Float(biases[l][j]) }
            }
        }
    }

    /// Copies images `order[0..<rows]` of `images` (`[*, C·H·W]`, channel-first as data sets store them) into
    /// `destination` as NHWC rows.
    static func loadImages(
        _ images: UnsafePointer<Float>, shape: InputShape, order: (Int) -> Int, rows: Int,
        into destination: UnsafeMutablePointer<T>
    ) {
        let c = shape.channels, plane = shape.height * shape.width
        for r in 0..<rows {
            let source = images + order(r) * shape.features
            let target = destination + r * shape.features
            if c == 1 {
                for p in 0..<plane { target[p] = T(source[p]) }
            } else {
                for p in 0..<plane {
                    for ch in 0..<c { target[p * c + ch] = T(source[ch * plane + p]) }
                }
            }
        }
    }
}
