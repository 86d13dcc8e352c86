import CKernels

// Evaluation with the sparse kernels: the data set transposed once into feature-major chunks.
extension SparseNetwork {
    // MARK: Evaluation

    /// A data set transposed once into feature-major chunks over this network's live inputs, for repeated evaluation.
    final class TransposedSet {
        let chunks: [(storage: UnsafeMutablePointer<Float>, start: Int, rows: Int)]
        let labels: [UInt8]
        init(chunks: [(storage: UnsafeMutablePointer<Float>, start: Int, rows: Int)], labels: [UInt8]) {
            self.chunks = chunks
            self.labels = labels
        }
        deinit { for chunk in chunks { chunk.storage.deallocate() } }
    }

    /// `dataset` in chunks of at most ``capacity`` images, feature-major over the live inputs.
    func transposed(_ dataset: Dataset) -> TransposedSet {
        var chunks: [(storage: UnsafeMutablePointer<Float>, start: Int, rows: Int)] = []
        dataset.images.withUnsafeBufferPointer { images in
            var start = 0
            while start < dataset.count {
                let rows = min(capacity, dataset.count - start)
                let storage = UnsafeMutablePointer<Float>.allocate(capacity: inputRows * ((rows + 7) & ~7))
                transpose(images: images.baseAddress!, features: dataset.features, count: rows, into: storage) {
                    start + $0
                }
                chunks.append((storage, start, rows))
                start += rows
            }
        }
        return TransposedSet(chunks: chunks, labels: dataset.labels)
    }

    /// Mean loss and accuracy on a transposed set.
    func evaluate(_ set: TransposedSet) -> (loss: Double, accuracy: Double) {
        guard !set.labels.isEmpty else { return (0, 0) }
        var lossSum = 0.0
        var correct = 0
        set.labels.withUnsafeBufferPointer { labels in
            for chunk in set.chunks {
                forward(chunk.storage, rows: chunk.rows)
                let s = score(labels: labels.baseAddress! + chunk.start)
                lossSum += s.lossSum
                correct += s.correct
            }
        }
        return (lossSum / Double(set.labels.count), Double(correct) / Double(set.labels.count))
    }

    /// Mean loss and accuracy on `dataset`, transposing chunk by chunk through ``input`` (for one-off passes).
    func evaluate(_ dataset: Dataset) -> (loss: Double, accuracy: Double) {
        guard dataset.count > 0 else { return (0, 0) }
        var lossSum = 0.0
        var correct = 0
        dataset.images.withUnsafeBufferPointer { images in
            dataset.labels.withUnsafeBufferPointer { labels in
                var start = 0
                while start < dataset.count {
                    let rows = min(capacity, dataset.count - start)
                    transpose(images: images.baseAddress!, features: dataset.features, count: rows, into: input) {
                        start + $0
                    }
                    forward(input, rows: rows)
                    let s = score(labels: labels.baseAddress! + start)
                    lossSum += s.lossSum
                    correct += s.correct
                    start += rows
                }
            }
        }
        return (lossSum / Double(dataset.count), Double(correct) / Double(dataset.count))
    }
}
