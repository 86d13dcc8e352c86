/// A dense row-major matrix of `Float`: element (r, c) is `data[r * cols + c]`.
///
/// A value type over `[Float]` (copy-on-write through `Array`), so it is `Sendable` for free. Hot loops
/// reach the storage with `withUnsafeBufferPointer` and BLAS.
public struct Matrix: Sendable, Hashable {
    public var rows: Int
    public var cols: Int
    /// `rows × cols` values, row-major.
    public var data: [Float]

    /// A matrix over existing row-major values.
    ///
    /// - Precondition: `data.count == rows * cols`.
    public init(rows: Int, cols: Int, data: [Float]) {
        precondition(
            rows >= 0 && cols >= 0 && data.count == rows * cols,
            "Matrix: \(data.count) values for a \(rows)x\(cols) matrix")
        self.rows = rows
        self.cols = cols
        self.data = data
    }

    /// A `rows × cols` matrix with every element `value`.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        self.init(rows: rows, cols: cols, data: Array(repeating: value, count: rows * cols))
    }

    /// Element (row, col).
    public subscript(row: Int, col: Int) -> Float {
        get { data[row * cols + col] }
        set { data[row * cols + col] = newValue }
    }

    /// `rows * cols`.
    public var count: Int { data.count }
}
