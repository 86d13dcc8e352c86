public import LotteryCore
public import MaskCodec

// LotteryCore's `[LayerMask]` ↔ MaskCodec's `Mask`: the same flags, row-major `[in, out]` per layer.
// They live here because LotteryWire is the one library that sees both the core and the codec.

extension Mask {
    /// The codec's view of a training core mask.
    public init(_ layers: [LayerMask]) {
        self.init(layers: layers.map { MaskLayer(rows: $0.rows, cols: $0.cols, kept: $0.kept) })
    }

    /// The training core's view of this mask.
    public var layerMasks: [LayerMask] {
        layers.map { LayerMask(rows: $0.rows, cols: $0.cols, kept: $0.kept) }
    }
}
