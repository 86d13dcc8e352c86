/// One item of a model's layer stack as a spec writes it (`model.layers`): a fully connected layer of `n` units,
/// a 3×3 convolution with `n` filters, or a 2×2 max-pool.
///
/// Spelling in specs and CSV: an integer `n` (or `fcN`) is a fully connected layer, `convN` a convolution, `pool`
/// a max-pool. LeNet-300-100 is `[300, 100]`, Conv-2 `[conv64, conv64, pool, 256, 256]`; the output layer is
/// implicit (one unit per class). JSON (the wire) uses the same spelling: integers stay integers.
public enum LayerToken: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    case fc(Int)
    case conv(Int)
    case pool

    /// An integer literal is a fully connected layer of that many units, as in specs: `[300, 100]`.
    public init(integerLiteral units: Int) { self = .fc(units) }

    /// Parses `conv64`, `fc256`, `pool` (case-insensitive); `nil` for anything else.
    public init?(_ text: String) {
        let lower = text.lowercased()
        if lower == "pool" {
            self = .pool
        } else if lower.hasPrefix("conv"), let n = Int(lower.dropFirst(4)), n >= 1 {
            self = .conv(n)
        } else if lower.hasPrefix("fc"), let n = Int(lower.dropFirst(2)), n >= 1 {
            self = .fc(n)
        } else if let n = Int(lower), n >= 1 {
            self = .fc(n)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .fc(let n): return "\(n)"
        case .conv(let n): return "conv\(n)"
        case .pool: return "pool"
        }
    }

    /// The spec value of this token: an integer for `fc`, a string otherwise.
    public var specValue: SpecValue {
        switch self {
        case .fc(let n): return .int(n)
        case .conv, .pool: return .string(description)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let n = try? container.decode(Int.self), n >= 1 {
            self = .fc(n)
            return
        }
        let text = try container.decode(String.self)
        guard let token = LayerToken(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "layer '\(text)' is not N, convN or pool"))
        }
        self = token
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .fc(let n): try container.encode(n)
        case .conv, .pool: try container.encode(description)
        }
    }
}

/// The kind of a weight layer, which decides its pruning rate (`prune.rates.conv|fc|output`).
public enum WeightLayerKind: String, Sendable, Hashable, Codable, CaseIterable {
    case conv, fc, output
}

/// The whole network a trial trains, with every shape derived from the data set's input shape: the one place
/// where layer widths, feature-map sizes and weight-matrix shapes are computed.
///
/// Layers: 3×3 convolutions (stride 1, same padding, ReLU), 2×2 max-pools (stride 2; an odd side drops its last
/// row or column, as PyTorch's `MaxPool2d(2)` does), fully connected layers (ReLU) and the output layer (one
/// unit per class, softmax cross-entropy). Convolutions come before fully connected layers; the last feature map
/// is flattened in `(y, x, channel)` order.
///
/// Every weight layer is a `[in, out]` matrix (``WeightLayerShape``): a fully connected layer's `[inputs,
/// units]`; a convolution's `[3·3·channels, filters]` with row `(ky·3 + kx)·channels + c` — TensorFlow's HWIO
/// kernel layout, which is PyTorch's OIHW transposed (docs/mask-format.md).
public struct Architecture: Sendable, Hashable {
    /// One layer of the stack with its input and output shapes.
    public enum Stage: Sendable, Hashable {
        /// 3×3 convolution, `input` → `output` (same height and width), ReLU.
        case conv(input: InputShape, output: InputShape)
        /// 2×2 max-pool, stride 2.
        case pool(input: InputShape, output: InputShape)
        /// Fully connected `inputs` → `outputs`; ReLU unless it is the output layer.
        case fc(inputs: Int, outputs: Int, isOutput: Bool)
    }

    public let input: InputShape
    public let classes: Int
    /// The layer tokens without the output layer (`model.layers`).
    public let tokens: [LayerToken]
    public let stages: [Stage]
    /// The weight layers, input to output.
    public let weightLayers: [WeightLayerShape]

    /// Kernel side of every convolution.
    public static let kernel = 3

    /// The network of `tokens` on `input` with `classes` outputs.
    ///
    /// - Throws: ``SpecError`` (key `model.layers`) for a convolution or pool after a fully connected layer, or a
    ///   pool on a map smaller than 2×2.
    public init(tokens: [LayerToken], input: InputShape, classes: Int) throws(SpecError) {
        precondition(classes >= 1, "Architecture: \(classes) classes")
        var stages: [Stage] = []
        var weights: [WeightLayerShape] = []
        var map = input
        var flat: Int? = nil
        for (index, token) in tokens.enumerated() {
            let place = "layer \(index + 1) ('\(token)')"
            switch token {
            case .conv(let filters):
                if flat != nil {
                    throw SpecError(
                        key: "model.layers",
                        message: "\(place) is a convolution after a fully connected layer; put every conv and pool first"
                    )
                }
                let out = InputShape(channels: filters, height: map.height, width: map.width)
                stages.append(.conv(input: map, output: out))
                let k = Architecture.kernel * Architecture.kernel
                weights.append(
                    WeightLayerShape(
                        kind: .conv, rows: k * map.channels, cols: filters, fanIn: k * map.channels, fanOut: k * filters))
                map = out
            case .pool:
                if flat != nil {
                    throw SpecError(
                        key: "model.layers", message: "\(place) is a pool after a fully connected layer; pool only feature maps")
                }
                guard map.height >= 2 && map.width >= 2 else {
                    throw SpecError(
                        key: "model.layers",
                        message:
                            "\(place) pools a \(map.height)x\(map.width) map: too many pools for \(input) inputs (each halves the sides)"
                    )
                }
                let out = InputShape(channels: map.channels, height: map.height / 2, width: map.width / 2)
                stages.append(.pool(input: map, output: out))
                map = out
            case .fc(let units):
                let inputs = flat ?? map.features
                stages.append(.fc(inputs: inputs, outputs: units, isOutput: false))
                weights.append(WeightLayerShape(kind: .fc, rows: inputs, cols: units, fanIn: inputs, fanOut: units))
                flat = units
            }
        }
        let inputs = flat ?? map.features
        stages.append(.fc(inputs: inputs, outputs: classes, isOutput: true))
        weights.append(WeightLayerShape(kind: .output, rows: inputs, cols: classes, fanIn: inputs, fanOut: classes))
        self.input = input
        self.classes = classes
        self.tokens = tokens
        self.stages = stages
        self.weightLayers = weights
    }

    /// A multilayer perceptron of `widths` (input, hidden…, output), e.g. `[784, 300, 100, 10]`.
    public static func mlp(widths: [Int]) -> Architecture {
        precondition(widths.count >= 2 && widths.allSatisfy { $0 >= 1 }, "Architecture.mlp: widths \(widths)")
        let input: InputShape = widths[0] == InputShape.mnist.features ? .mnist : .flat(widths[0])
        // Fully connected layers only: nothing can throw.
        return try! Architecture(tokens: widths.dropFirst().dropLast().map { .fc($0) }, input: input, classes: widths.last!)
    }

    /// Whether any layer is a convolution or pool (the conv engine trains it); otherwise an MLP.
    public var hasConvolutions: Bool { stages.contains { if case .fc = $0 { false } else { true } } }

    /// Units per layer including input and output when the network is an MLP; `nil` when it has convolutions.
    public var widths: [Int]? {
        hasConvolutions ? nil : [input.features] + weightLayers.map(\.cols)
    }

    /// `[rows, cols]` of every weight matrix.
    public var weightShapes: [(rows: Int, cols: Int)] { weightLayers.map { ($0.rows, $0.cols) } }

    /// Kernel weights per layer.
    public var layerSizes: [Int] { weightLayers.map(\.count) }

    /// Multiply-adds ×2 of one image's forward pass (convolutions counted over every output position).
    public var forwardFLOPs: Double {
        var total = 0.0
        var w = 0
        for stage in stages {
            switch stage {
            case .conv(_, let output):
                total += 2 * Double(weightLayers[w].count) * Double(output.height * output.width)
                w += 1
            case .pool: break
            case .fc:
                total += 2 * Double(weightLayers[w].count)
                w += 1
            }
        }
        return total
    }
}

/// The shape of one weight layer's kernel as a `[rows, cols]` matrix (``Architecture``), with the fans of its
/// init distribution.
public struct WeightLayerShape: Sendable, Hashable {
    public let kind: WeightLayerKind
    public let rows: Int
    public let cols: Int
    /// Fan-in and fan-out for Glorot/He init: a convolution's are `3·3·in` and `3·3·out` (Keras/TensorFlow).
    public let fanIn: Int
    public let fanOut: Int

    public var count: Int { rows * cols }
}

extension Architecture {
    /// Where weight layer `l` reads its inputs from: a feature map (conv, or fc right after a conv/pool stage,
    /// whose rows are in `(y, x, c)` order), or flat values (`nil`: fc layers of an MLP read the data set's rows
    /// as they are, and fc layers after another fc layer read its units).
    public func inputMap(ofLayer l: Int) -> InputShape? {
        var w = -1
        var previous: Stage? = nil
        for stage in stages {
            switch stage {
            case .conv(let input, _):
                w += 1
                if w == l { return input }
            case .pool: break
            case .fc:
                w += 1
                if w == l {
                    switch previous {
                    case .conv(_, let output)?, .pool(_, let output)?: return output
                    default: return nil
                    }
                }
            }
            previous = stage
        }
        preconditionFailure("Architecture.inputMap: no weight layer \(l)")
    }

    /// Weight layer `l`'s mask (or any per-weight values) in PyTorch's layout, for export.
    ///
    /// - A convolution's `[9·C, O]` kernel (HWIO) becomes `[O, C, 3, 3]` (OIHW, `nn.Conv2d.weight`).
    /// - A fully connected layer stays `[in, out]` (fan-in × fan-out, as always exported); when it reads a feature
    ///   map, its rows are reordered from our `(y, x, c)` flattening to `(c, y, x)`, `torch.flatten` of an NCHW
    ///   tensor.
    /// - Returns: the shape and the values in C order.
    public func pytorchLayout<Value>(layer l: Int, _ values: [Value]) -> (shape: [Int], values: [Value]) {
        let shape = weightLayers[l]
        precondition(values.count == shape.count, "Architecture.pytorchLayout: \(values.count) values for \(shape.count)")
        switch (shape.kind, inputMap(ofLayer: l)) {
        case (.conv, let map?):
            let c = map.channels, o = shape.cols
            var out = values
            for oi in 0..<o {
                for ci in 0..<c {
                    for k in 0..<9 { out[(oi * c + ci) * 9 + k] = values[(k * c + ci) * o + oi] }
                }
            }
            return ([o, c, 3, 3], out)
        case (_, let map?):
            let c = map.channels, plane = map.height * map.width, cols = shape.cols
            var out = values
            for p in 0..<plane {
                for ci in 0..<c {
                    let from = (p * c + ci) * cols, to = (ci * plane + p) * cols
                    for j in 0..<cols { out[to + j] = values[from + j] }
                }
            }
            return ([shape.rows, cols], out)
        default:
            return ([shape.rows, shape.cols], values)
        }
    }
}
