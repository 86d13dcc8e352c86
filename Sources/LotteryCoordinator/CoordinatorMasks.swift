import LotteryCore
import LotteryResults
import LotteryWire
import MaskCodec

/// Why a round result's masks were refused (never stored; the trial is requeued).
struct MaskRejection: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension CoordinatorLoop {
    /// The weight-matrix shapes of `spec`'s network, `[in, out]` per layer (``Architecture/weightShapes``).
    /// LeNet-300-100 on MNIST: `[784,300]`, `[300,100]`, `[100,10]`. Specs are validated before they are
    /// registered, so an architecture that does not fit its input never reaches here; if one did, no shape fits.
    static func expectedShapes(_ spec: TrialSpec) -> [(rows: Int, cols: Int)] {
        (try? spec.architecture())?.weightShapes ?? []
    }

    /// Checks the masks of a result the scheduler will accept (``CoordinatorAction/checkResult(_:)``), and chooses
    /// the bytes to store.
    ///
    /// Every blob is checked for structure first (header, CRC-32, the network's layer shapes, the declared parent).
    /// Then, on the **fast path** (a top-level round r > 0 whose `mask` is byte for byte the next mask recorded
    /// with round r−1, the mask this round had to train with; or a self-contained round-0 mask), nothing is
    /// decoded here: both blobs are stored as sent and go to the ``MaskAudit`` thread, which decodes the
    /// `next_mask` against round r's mask (round 0's too) and fails the trial if it does not decode to a mask of
    /// that parent. Otherwise (a branch, the first result after a coordinator restart or a requeue, a worker that
    /// encodes differently) the **slow path** decodes both blobs here and checks that `mask` is the recorded
    /// next mask of round r−1.
    ///
    /// Storage (docs/results.md, "Mask files"): a top-level trial's `round-NN.ltmask` is kept as sent when it is
    /// self-contained or a delta against round NN−1, otherwise re-encoded as a delta against round NN−1; a branch
    /// trial's mask is always self-contained. `rounds.next_mask` is kept as sent when it is self-contained or a
    /// delta against this round's mask (``ResultsStore/nextMask(trialID:round:)`` resolves it), else re-encoded.
    ///
    /// - Throws: ``MaskRejection`` for a malformed blob, a bad CRC, a wrong shape, an unknown delta parent, a
    ///   `mask_parent` that disagrees with the file, or a mask that is not the next mask recorded with round r−1.
    func prepare(_ check: ResultToCheck) throws -> CheckedResult {
        let result = check.result
        let spec = check.spec
        let trialID = result.trialID
        let round = result.round
        let shapes = Self.expectedShapes(spec)
        let maskInfo = try structure(result.mask, role: "mask", declaredParent: result.maskParent, shapes: shapes)
        let nextInfo = try result.nextMask.map {
            try structure($0, role: "next_mask", declaredParent: result.nextMaskParent, shapes: shapes)
        }
        if spec.branch == nil, round > 0, let last = lastMasks[trialID], last.round == round - 1,
            let expected = last.nextBytes, expected == result.mask
        {
            stats.fastPathResults += 1
            return CheckedResult(
                check: check, maskFile: result.mask, nextMaskFile: result.nextMask,
                audit: result.nextMask.map { .verify(trialID: trialID, round: round, mask: nil, next: $0) })
        }
        if spec.branch == nil, round == 0, !maskInfo.isDelta {
            // Round 0 has no recorded mask to match: the audit decodes both files.
            stats.fastPathResults += 1
            return CheckedResult(
                check: check, maskFile: result.mask, nextMaskFile: result.nextMask,
                audit: .verify(trialID: trialID, round: 0, mask: result.mask, next: result.nextMask))
        }
        var previous: Mask?
        var expected: Mask?
        if spec.branch == nil, round > 0 {
            previous = try storedMask(trialID: trialID, round: round - 1)
            do {
                expected = try committedStore().nextMask(trialID: trialID, round: round - 1)
            } catch {
                throw MaskRejection("\(error)")
            }
        }
        var branchParent: Mask?
        if let branch = spec.branch {
            branchParent = try storedMask(trialID: branch.parentTrial, round: branch.parentRound)
        }
        let mask = try decode(
            result.mask, info: maskInfo, role: "mask",
            candidates: [previous, expected, branchParent].compactMap { $0 })
        if let expected, mask != expected {
            throw MaskRejection(
                "its mask differs from the next mask recorded with round \(round - 1) (the mask this round trains with)"
            )
        }
        var nextMaskFile: [UInt8]?
        var nextMask: Mask?
        if let blob = result.nextMask, let nextInfo {
            let next = try decode(
                blob, info: nextInfo, role: "next_mask",
                candidates: [mask, previous, branchParent].compactMap { $0 })
            let keep = nextInfo.parentChecksum == nil || nextInfo.parentChecksum == mask.checksum
            nextMaskFile = keep ? blob : MaskFile.encode(next, parent: mask)
            nextMask = next
        }
        let maskFile: [UInt8]
        if spec.branch != nil || round == 0 || previous == nil {
            maskFile = maskInfo.isDelta == false ? result.mask : MaskFile.encode(mask)
        } else if maskInfo.parentChecksum == nil || maskInfo.parentChecksum == previous?.checksum {
            maskFile = result.mask
        } else {
            maskFile = MaskFile.encode(mask, parent: previous)
        }
        return CheckedResult(
            check: check, maskFile: maskFile, nextMaskFile: nextMaskFile,
            audit: nextMask.map { .seed(trialID: trialID, round: round + 1, mask: $0) })
    }

    /// Checks a blob without decoding its payloads: header, CRC-32, that its header names the parent the message
    /// declares, and the network's layer shapes.
    func structure(
        _ blob: [UInt8], role: String, declaredParent: UInt64?, shapes: [(rows: Int, cols: Int)]
    ) throws -> MaskFileInfo {
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
        let got = info.layers.map { (rows: $0.rows, cols: $0.cols) }
        guard got.count == shapes.count, zip(got, shapes).allSatisfy({ $0.rows == $1.rows && $0.cols == $1.cols })
        else {
            let show = { (list: [(rows: Int, cols: Int)]) in
                list.map { "[\($0.rows),\($0.cols)]" }.joined(separator: ",")
            }
            throw MaskRejection("'\(role)' has layer shapes \(show(got)), the spec's network has \(show(shapes))")
        }
        return info
    }

    /// Decodes a blob whose structure ``structure(_:role:declaredParent:shapes:)`` checked, its delta parent
    /// picked among `candidates` by checksum.
    func decode(_ blob: [UInt8], info: MaskFileInfo, role: String, candidates: [Mask]) throws -> Mask {
        var parent: Mask?
        if let wanted = info.parentChecksum {
            parent = candidates.first { $0.checksum == wanted }
            guard parent != nil else {
                throw MaskRejection(
                    "'\(role)' is a delta against mask \(Self.hex(wanted)), which is neither the previous round's mask nor the mask this round trains with"
                )
            }
        }
        do {
            return try MaskFile.decode(blob, parent: parent)
        } catch {
            throw MaskRejection("'\(role)' does not decode: \(error)")
        }
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

    /// A recorded round's mask, its delta chain resolved through the trial's earlier rounds.
    func storedMask(trialID: String, round: Int) throws -> Mask? {
        do {
            return try committedStore().mask(trialID: trialID, round: round)
        } catch {
            throw MaskRejection("\(error)")
        }
    }
}
