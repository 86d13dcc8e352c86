/// Softmax cross-entropy on `[rows, classes]` logits, shared by every network engine (internal).
enum Softmax {
    /// Sum of per-row losses and the correct count.
    ///
    /// Per row: `log Σ exp(z − max) − (z_y − max)`, accumulated in Double in row order. A row is correct
    /// when its label is the first index of the maximum logit.
    static func score<T: NetworkScalar>(
        logits: UnsafePointer<T>, classes n: Int, labels: UnsafePointer<UInt8>, rows: Int
    ) -> (lossSum: Double, correct: Int) {
        var lossSum = 0.0
        var correct = 0
        for r in 0..<rows {
            let row = logits + r * n
            var best = 0
            for j in 1..<max(n, 1) where row[j] > row[best] { best = j }
            let top = row[best]
            var sum: T = 0
            for j in 0..<n { sum += T.exponential(row[j] - top) }
            let y = Int(labels[r])
            lossSum += Double(T.logarithm(sum) - (row[y] - top))
            if best == y { correct += 1 }
        }
        return (lossSum, correct)
    }

    /// ∂(mean loss over `rows`)/∂logits: `(softmax(z) − onehot(y)) / rows`, into `d` (`[rows, classes]`).
    static func delta<T: NetworkScalar>(
        logits: UnsafePointer<T>, classes n: Int, labels: UnsafePointer<UInt8>, rows: Int,
        into delta: UnsafeMutablePointer<T>
    ) {
        let scale = 1 / T(rows)
        for r in 0..<rows {
            let row = logits + r * n
            let d = delta + r * n
            var top = row[0]
            for j in 1..<n where row[j] > top { top = row[j] }
            var sum: T = 0
            for j in 0..<n { let e = T.exponential(row[j] - top); d[j] = e; sum += e }
            let inv = scale / sum
            for j in 0..<n { d[j] *= inv }
            d[Int(labels[r])] -= scale
        }
    }
}
