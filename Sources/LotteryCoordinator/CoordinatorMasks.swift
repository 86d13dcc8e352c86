import LotteryCore
import LotteryWire
import MaskCodec

/// Why a round result's masks were refused (never stored; the trial is requeued).
struct MaskRejection: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension CoordinatorLoop {
    /// The weight-matrix shapes of `spec`'s network, `[in, out]` per layer: widths `[784] + model.layers + [10]`
    /// (MNIST and Fashion-MNIST: 28×28 inputs, 10 classes). LeNet-300-100: `[784,300]`, `[300,100]`, `[100,10]`.
    static func expectedShapes(_ spec: TrialSpec) -> [(rows: Int, cols: Int)] {
        let widths = [784] + spec.model.layers + [10]
        return (0..<(widths.count - 1)).map { (widths[$0], widths[$0 + 1]) }
    }

    /// Decodes and checks the masks of a result the scheduler is about to accept, and chooses the bytes to store.
    ///
    /// Storage (docs/results.md, "Mask files"): a top-level trial's `round-NN.ltmask` is kept as sent when it is
    /// self-contained or a delta against round NN−1 (so `MaskFile.decodeChain` resolves it inside the folder),
    /// otherwise re-encoded as a delta against round NN−1; a branch trial's mask is always self-contained (its
    /// parent lives in another trial's folder). The next mask goes into `rounds.next_mask` self-contained, ready to
    /// be sent as a TASK's `resume_mask`.
    ///
    /// - Throws: ``MaskRejection`` for an undecodable blob, a bad CRC, a wrong shape, an unknown delta parent, a
    ///   `mask_parent` that disagrees with the file, or a mask that is not the next mask recorded with round r−1.
    func prepare(_ result: WireMessage.RoundResult, spec: TrialSpec) throws -> PreparedResult {
        let trialID = result.trialID
        let round = result.round
        let shapes = Self.expectedShapes(spec)
        var previous: Mask?
        var expected: Mask?
        if spec.branch == nil, round > 0 {
            previous = try storedOrCachedMask(trialID: trialID, round: round - 1)
            if let cached = lastMasks[trialID], cached.round == round - 1, let next = cached.next {
                expected = next
            } else if let bytes = try committedStore().nextMaskBytes(trialID: trialID, round: round - 1) {
                expected = try? MaskFile.decodeChain(bytes) { _, _ in nil }
            }
        }
        var branchParent: Mask?
        if let branch = spec.branch {
            branchParent = try storedMask(trialID: branch.parentTrial, round: branch.parentRound)
        }
        let mask = try decode(
            result.mask, role: "mask", declaredParent: result.maskParent,
            candidates: [previous, expected, branchParent].compactMap { $0 }, shapes: shapes)
        if let expected, mask != expected {
            throw MaskRejection(
                "its mask differs from the next mask recorded with round \(round - 1) (the mask this round trains with)"
            )
        }
        var nextMaskFile: [UInt8]?
        var nextMask: Mask?
        if let blob = result.nextMask {
            let next = try decode(
                blob, role: "next_mask", declaredParent: result.nextMaskParent,
                candidates: [mask, previous, branchParent].compactMap { $0 }, shapes: shapes)
            nextMaskFile = (try? MaskFile.info(blob))?.isDelta == false ? blob : MaskFile.encode(next)
            nextMask = next
        }
        let info = try? MaskFile.info(result.mask)
        let maskFile: [UInt8]
        if spec.branch != nil || round == 0 || previous == nil {
            maskFile = info?.isDelta == false ? result.mask : MaskFile.encode(mask)
        } else if info?.parentChecksum == nil || info?.parentChecksum == previous?.checksum {
            maskFile = result.mask
        } else {
            maskFile = MaskFile.encode(mask, parent: previous)
        }
        return PreparedResult(
            taskID: result.taskID, spec: spec, metrics: result.metrics, mask: mask, maskFile: maskFile,
            nextMask: nextMask, nextMaskFile: nextMaskFile)
    }

    func decode(
        _ blob: [UInt8], role: String, declaredParent: UInt64?, candidates: [Mask], shapes: [(rows: Int, cols: Int)]
    ) throws -> Mask {
        let info: MaskFileInfo
        do {
            info = try MaskFile.info(blob)
        } catch {
            throw MaskRejection("'\(role)' is not a mask file: \(error)")
        }
        guard info.parentChecksum == declaredParent else {
            throw MaskRejection(
                "'\(role)' names parent \(Self.hex(info.parentChecksum)) in its header but \(role)_parent says \(Self.hex(declaredParent))"
            )
        }
        var parent: Mask?
        if let wanted = info.parentChecksum {
            parent = candidates.first { $0.checksum == wanted }
            guard parent != nil else {
                throw MaskRejection(
                    "'\(role)' is a delta against mask \(Self.hex(wanted)), which is neither the previous round's mask nor the mask this round trains with"
                )
            }
        }
        let mask: Mask
        do {
            mask = try MaskFile.decode(blob, parent: parent)
        } catch {
            throw MaskRejection("'\(role)' does not decode: \(error)")
        }
        let got = mask.shapes
        guard got.count == shapes.count, zip(got, shapes).allSatisfy({ $0.rows == $1.rows && $0.cols == $1.cols })
        else {
            let show = { (list: [(rows: Int, cols: Int)]) in
                list.map { "[\($0.rows),\($0.cols)]" }.joined(separator: ",")
            }
            throw MaskRejection("'\(role)' has layer shapes \(show(got)), the spec's network has \(show(shapes))")
        }
        return mask
    }

    static func hex(_ checksum: UInt64?) -> String {
        guard let checksum else { return "none (self-contained)" }
        let digits = String(checksum, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    /// The store, after committing what was accepted (reads must see every accepted result).
    func committedStore() -> ResultsStore {
        commitAccepted()
        return store
    }

    func storedOrCachedMask(trialID: String, round: Int) throws -> Mask? {
        if let cached = lastMasks[trialID], cached.round == round { return cached.mask }
        return try storedMask(trialID: trialID, round: round)
    }

    /// A recorded round's mask, its delta chain resolved through the trial's earlier rounds.
    func storedMask(trialID: String, round: Int) throws -> Mask? {
        commitAccepted()
        guard let bytes = try store.maskBytes(trialID: trialID, round: round) else { return nil }
        let store = self.store
        do {
            return try MaskFile.decodeChain(bytes) { depth, _ in
                round - depth >= 0 ? (try? store.maskBytes(trialID: trialID, round: round - depth)) ?? nil : nil
            }
        } catch {
            throw MaskRejection("the recorded mask of \(trialID) round \(round) does not decode: \(error)")
        }
    }
}
