import CKernels

/// Input rows as lists of their nonzero entries (compressed sparse rows), for a first layer whose inputs are
/// mostly zero: 19 % of MNIST's pixels are nonzero, so its forward product and weight gradients can skip four
/// fifths of the work every dense framework does (internal).
///
/// Skipping a zero input is exact: its product is ±0, and adding ±0 to a sum that started at +0 leaves it
/// unchanged. So ``listProduct(into:columns:starts:index:values:count:matrix:)`` computes the full sum over every
/// input, in increasing input order — the same order in the portable and AVX2 versions, hence the same bits. It
/// is not the order of OpenBLAS's sgemm, so the sparse-input and sgemm paths agree to float32 rounding, not bit
/// for bit; which one runs is ``KernelPolicy/usesSparseInput(nonzeros:rows:features:)``, a function of the data
/// alone.
final class SparseRows {
    let capacity: Int
    let features: Int
    /// `capacity + 1` offsets into `columns`/`values`; row `r` is `starts[r] ..< starts[r + 1]`.
    let starts: UnsafeMutablePointer<Int>
    let columns: UnsafeMutablePointer<Int32>
    let values: UnsafeMutablePointer<Float>
    private let entryCapacity: Int
    /// Rows loaded.
    private(set) var rows = 0

    /// Room for `capacity` rows of `features` inputs.
    convenience init(capacity: Int, features: Int) { self.init(capacity: capacity, features: features, entries: nil) }

    /// Room for `capacity` rows with at most `entries` nonzero entries in all (`nil`: every input of every row);
    /// only ``init(dataset:)``, which counts them first, passes a number.
    private init(capacity: Int, features: Int, entries: Int?) {
        precondition(capacity >= 1 && features >= 1, "SparseRows: capacity \(capacity), features \(features)")
        self.capacity = capacity
        self.features = features
        // The compression stores whole 8-lane vectors (AVX2) or one slot (portable) past the last entry kept.
        entryCapacity = (entries ?? capacity * features) + 8
        starts = .allocate(capacity: capacity + 1)
        starts.initialize(repeating: 0, count: capacity + 1)
        columns = .allocate(capacity: entryCapacity)
        values = .allocate(capacity: entryCapacity)
    }

    /// Every image of `dataset`, sized to its nonzero count.
    convenience init(dataset: Dataset) {
        self.init(capacity: max(dataset.count, 1), features: dataset.features, entries: nonzeroCount(dataset.images))
        dataset.images.withUnsafeBufferPointer { images in
            load(images: images.baseAddress!, order: nil, rows: dataset.count)
        }
    }

    deinit {
        starts.deallocate()
        columns.deallocate()
        values.deallocate()
    }

    /// Nonzero entries of rows `first ..< first + count`.
    func nonzeros(first: Int, count: Int) -> Int { starts[first + count] - starts[first] }

    /// Compresses rows `order[0 ..< rows]` of `images` (`[*, features]`), or rows `0 ..< rows` when `order` is nil.
    /// Writes up to 8 slots past the entries kept, which the capacity allows.
    func load(images: UnsafePointer<Float>, order: UnsafePointer<Int>?, rows: Int) {
        precondition(rows <= capacity, "SparseRows: \(rows) rows, capacity \(capacity)")
        self.rows = rows
        if CPUKernels.avx2 {
            lth_compress_rows_avx2(images, order, rows, features, starts, columns, values)
            return
        }
        var n = 0
        for r in 0..<rows {
            let row = images + (order?[r] ?? r) * features
            // Branch-free: every input is written, the cursor moves on only past a nonzero one (−0 counts as zero).
            for f in 0..<features {
                let v = row[f]
                columns[n] = Int32(truncatingIfNeeded: f)
                values[n] = v
                n &+= v != 0 ? 1 : 0
            }
            starts[r + 1] = n
        }
    }
}

/// The same entries listed by feature (compressed sparse columns), each feature's entries in row order: the
/// layout of the first layer's weight gradient `Xᵀ·Δ` (internal).
final class SparseColumns {
    let features: Int
    /// `features + 1` offsets; feature `f` is `starts[f] ..< starts[f + 1]`.
    let starts: UnsafeMutablePointer<Int>
    let rowIndex: UnsafeMutablePointer<Int32>
    let values: UnsafeMutablePointer<Float>
    private let entryCapacity: Int

    init(features: Int, entries: Int) {
        self.features = features
        entryCapacity = max(entries, 1)
        starts = .allocate(capacity: features + 1)
        starts.initialize(repeating: 0, count: features + 1)
        rowIndex = .allocate(capacity: entryCapacity)
        values = .allocate(capacity: entryCapacity)
    }

    deinit {
        starts.deallocate()
        rowIndex.deallocate()
        values.deallocate()
    }

    /// Regroups rows `first ..< first + count` of `x` by feature (a counting sort, so row order is kept).
    func load(_ x: SparseRows, first: Int, count: Int) {
        precondition(
            x.features == features && x.nonzeros(first: first, count: count) <= entryCapacity,
            "SparseColumns: \(x.nonzeros(first: first, count: count)) entries, room for \(entryCapacity)")
        for f in 0...features { starts[f] = 0 }
        let begin = x.starts[first], end = x.starts[first + count]
        for q in begin..<end { starts[Int(x.columns[q]) + 1] += 1 }
        for f in 0..<features { starts[f + 1] += starts[f] }
        // `starts[f]` now is feature f's first slot; fill forward, then shift back.
        for r in 0..<count {
            for q in x.starts[first + r]..<x.starts[first + r + 1] {
                let f = Int(x.columns[q])
                let slot = starts[f]
                rowIndex[slot] = Int32(truncatingIfNeeded: r)
                values[slot] = x.values[q]
                starts[f] = slot + 1
            }
        }
        for f in stride(from: features, to: 0, by: -1) { starts[f] = starts[f - 1] }
        starts[0] = 0
    }
}

/// Values that are not ±0 (NaN counts), the entries ``SparseRows`` keeps.
func nonzeroCount(_ values: [Float]) -> Int {
    var n = 0
    for v in values where v != 0 { n += 1 }
    return n
}

/// `out[r, j] = Σ_{q ∈ starts[r] ..< starts[r+1]} values[q] · matrix[index[q], j]` for `count` lists over
/// `columns` columns: from +0, in increasing `q`, multiply then add — the order ``lth_list_product_avx2`` keeps
/// lane by lane, so both give the same bits.
func listProduct(
    into out: UnsafeMutablePointer<Float>, columns n: Int, starts: UnsafePointer<Int>, index: UnsafePointer<Int32>,
    values: UnsafePointer<Float>, count: Int, matrix: UnsafePointer<Float>
) {
    if CPUKernels.avx2 {
        lth_list_product_avx2(out, n, starts, index, values, count, matrix)
        return
    }
    for r in 0..<count {
        let begin = starts[r], end = starts[r + 1]
        let o = out + r * n
        var j = 0
        while j + 32 <= n {
            var a0 = SIMD8<Float>(), a1 = a0, a2 = a0, a3 = a0
            for q in begin..<end {
                let x = SIMD8<Float>(repeating: values[q])
                let src = UnsafeRawPointer(matrix + Int(index[q]) * n + j)
                a0 += x * src.loadUnaligned(as: SIMD8<Float>.self)
                a1 += x * src.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                a2 += x * src.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
                a3 += x * src.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
            }
            let dst = UnsafeMutableRawPointer(o + j)
            dst.storeBytes(of: a0, as: SIMD8<Float>.self)
            dst.storeBytes(of: a1, toByteOffset: 32, as: SIMD8<Float>.self)
            dst.storeBytes(of: a2, toByteOffset: 64, as: SIMD8<Float>.self)
            dst.storeBytes(of: a3, toByteOffset: 96, as: SIMD8<Float>.self)
            j += 32
        }
        while j < n {
            var a: Float = 0
            for q in begin..<end { a += values[q] * matrix[Int(index[q]) * n + j] }
            o[j] = a
            j += 1
        }
    }
}
