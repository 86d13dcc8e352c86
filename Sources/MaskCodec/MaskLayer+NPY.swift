extension MaskLayer {
    /// The layer as a NumPy `.npy` file (format version 1.0, numpy.lib.format): a `bool` array of shape
    /// `(rows, cols)` = `(fan_in, fan_out)`, C order, so `numpy.load` gives the mask in the weights' layout.
    public func npyBytes() -> [UInt8] { NPY.boolArray(shape: [rows, cols], values: kept) }
}

/// NumPy's `.npy` format (version 1.0, numpy.lib.format), for boolean arrays.
public enum NPY {
    /// A C-order `bool` array of `shape`.
    ///
    /// - Precondition: `values.count` is the product of `shape`.
    public static func boolArray(shape: [Int], values: [Bool]) -> [UInt8] {
        precondition(values.count == shape.reduce(1, *), "NPY: \(values.count) values for shape \(shape)")
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '|b1', 'fortran_order': False, 'shape': (\(dims)), }"
        // magic (6) + version (2) + header length (2) + header + newline, padded to a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = header.utf8.count
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xff), UInt8(length >> 8)]
        bytes.reserveCapacity(bytes.count + length + values.count)
        bytes += Array(header.utf8)
        bytes += values.map { $0 ? 1 : 0 }
        return bytes
    }
}
