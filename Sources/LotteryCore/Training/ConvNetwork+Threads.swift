import Dispatch

// ConvNetwork's threads: who computes which chunk or block (never what it computes; see ConvNetwork's
// "Determinism for any thread count").
extension ConvNetwork {
    /// Runs `body(chunk, slot)` for every chunk of `images` of `rows` images, on up to ``threads`` threads; slot `t`
    /// is used by one thread at a time (it owns the scratch columns of that slot).
    func parallelChunks(rows: Int, images: Int, _ body: (Int, Int) -> Void) {
        let chunkCount = Self.chunks(rows, images: images)
        let lanes = min(threads, chunkCount, columns.count)
        if lanes <= 1 {
            for c in 0..<chunkCount { body(c, 0) }
            return
        }
        parallelLanes(lanes) { lane in
            for c in stride(from: lane, to: chunkCount, by: lanes) { body(c, lane) }
        }
    }

    /// Runs `body(first, width)` for the fixed blocks of `width` columns out of `columns`, on up to ``threads``
    /// threads.
    func columnBlocks(_ columns: Int, _ width: Int, _ body: (Int, Int) -> Void) {
        parallelUnits((columns + width - 1) / width) { b in body(b * width, min(width, columns - b * width)) }
    }

    /// Runs `body(unit)` for `units` independent units of work on up to ``threads`` threads.
    func parallelUnits(_ units: Int, _ body: (Int) -> Void) {
        let lanes = min(threads, units)
        if lanes <= 1 {
            for u in 0..<units { body(u) }
            return
        }
        parallelLanes(lanes) { lane in
            for u in stride(from: lane, to: units, by: lanes) { body(u) }
        }
    }}

/// Runs `body(lane)` for lanes `0..<lanes` at once, each on its own thread, and returns when all are done.
///
/// The callers give each lane disjoint memory (its own chunks, blocks or scratch), which is why the closure may
/// cross threads although it is not `Sendable`.
func parallelLanes(_ lanes: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: lanes) { lane in box.value(lane) }
    }
}

/// Carries a non-`Sendable` closure into `concurrentPerform` (see ``parallelLanes(_:_:)``).
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
