/// How 8-bit pixels become network inputs; chosen per data set by ``DataStore/normalization(_:)``.
public enum PixelNormalization: String, Sendable, Hashable, CaseIterable {
    /// `p / 255`, values in [0, 1]: MNIST and Fashion-MNIST (as since the first release; zero pixels stay exactly 0,
    /// which the zero-skipping first layer relies on).
    case unitRange = "unit-range"
    /// Per channel `(p / 255 − mean_c) / std_c`, with `mean_c` and `std_c` (population standard deviation) of
    /// channel `c` over every pixel of the official training file: CIFAR-10. On the real CIFAR-10 these are
    /// mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616).
    case perChannelStandardization = "per-channel-standardization"
}

/// Mean and population standard deviation of one channel's `p / 255` values.
public struct ChannelStatistics: Sendable, Hashable {
    public var mean: Double
    public var std: Double

    public init(mean: Double, std: Double) {
        self.mean = mean
        self.std = std
    }

    /// The statistics of each channel of `pixels` (images of `shape`, CHW, one after another).
    ///
    /// Exact and order-free: the pixels are first counted per channel and value (integers), and the moments are
    /// computed from the 256 counts in a fixed order, so every machine gets the same bits.
    public static func of(pixels: [UInt8], shape: InputShape) -> [ChannelStatistics] {
        let plane = shape.height * shape.width
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 256), count: shape.channels)
        pixels.withUnsafeBufferPointer { buffer in
            let images = buffer.count / shape.features
            for channel in 0..<shape.channels {
                counts[channel].withUnsafeMutableBufferPointer { histogram in
                    for image in 0..<images {
                        let start = image * shape.features + channel * plane
                        for index in start..<start + plane { histogram[Int(buffer[index])] += 1 }
                    }
                }
            }
        }
        return counts.map { histogram in
            let total = Double(histogram.reduce(0, +))
            guard total > 0 else { return ChannelStatistics(mean: 0, std: 1) }
            var sum = 0.0
            for value in 0..<256 { sum += Double(histogram[value]) * (Double(value) / 255) }
            let mean = sum / total
            var squares = 0.0
            for value in 0..<256 {
                let deviation = Double(value) / 255 - mean
                squares += Double(histogram[value]) * deviation * deviation
            }
            return ChannelStatistics(mean: mean, std: (squares / total).squareRoot())
        }
    }
}

/// Applies a ``PixelNormalization`` through a per-channel table of 256 floats, each computed once in Double and
/// rounded to Float: the same byte always gives the same float, on every worker.
public struct PixelNormalizer: Sendable {
    public let normalization: PixelNormalization
    /// The statistics the tables use (per-channel standardisation only; empty for ``PixelNormalization/unitRange``).
    public let statistics: [ChannelStatistics]
    /// `tables[c][p]`: the input value of byte `p` in channel `c`.
    public let tables: [[Float]]

    /// - Parameters:
    ///   - trainingPixels: the official training set's pixels, whose statistics standardisation uses.
    ///   - shape: the shape of one image.
    public init(_ normalization: PixelNormalization, trainingPixels: [UInt8], shape: InputShape) {
        self.normalization = normalization
        switch normalization {
        case .unitRange:
            statistics = []
            // Bit-identical to `Dataset(pixels:…)`'s `Float(p) * (1 / 255)`, the scaling MNIST results were made with.
            let scale: Float = 1 / 255
            let table = (0..<256).map { Float($0) * scale }
            tables = [[Float]](repeating: table, count: shape.channels)
        case .perChannelStandardization:
            statistics = ChannelStatistics.of(pixels: trainingPixels, shape: shape)
            tables = statistics.map { stats in
                let std = stats.std > 1e-12 ? stats.std : 1  // a constant channel: centre it only
                return (0..<256).map { Float((Double($0) / 255 - stats.mean) / std) }
            }
        }
    }

    /// `pixels` (images of `shape`, CHW) as network inputs.
    public func apply(_ pixels: [UInt8], shape: InputShape) -> [Float] {
        precondition(tables.count == shape.channels, "PixelNormalizer: \(tables.count) channels, images have \(shape)")
        let plane = shape.height * shape.width
        return [Float](unsafeUninitializedCapacity: pixels.count) { out, initialized in
            pixels.withUnsafeBufferPointer { source in
                for channel in 0..<shape.channels {
                    tables[channel].withUnsafeBufferPointer { table in
                        var start = channel * plane
                        while start < source.count {
                            for index in start..<start + plane { out[index] = table[Int(source[index])] }
                            start += shape.features
                        }
                    }
                }
            }
            initialized = pixels.count
        }
    }

    /// A data set of these pixels and labels, normalised.
    public func dataset(pixels: [UInt8], labels: [UInt8], shape: InputShape, classes: Int = 10) -> Dataset {
        Dataset(images: apply(pixels, shape: shape), labels: labels, shape: shape, classes: classes)
    }
}
