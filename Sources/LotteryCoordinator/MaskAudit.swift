import Foundation
public import MaskCodec

#if canImport(Glibc)
    import Glibc
#endif

/// Decodes, on a thread of its own, the next masks the coordinator recorded without decoding them.
///
/// A round result's `mask` must be the next mask recorded with the previous round, and when it is byte for byte
/// the coordinator stores it and the new `next_mask` as sent after checking their structure (header, CRC-32,
/// shapes): decoding a LeNet-size mask costs about a millisecond, twenty times the rest of a result's handling.
/// The audit decodes each such `next_mask` against the mask of the round it was recorded with, in the order
/// the rounds were accepted, so every recorded mask is still decoded once and every delta link checked by
/// checksum — only later, and on another core when there is one. A next mask that does not decode, or is a
/// delta against anything but its round's mask, is a ``Failure``: the coordinator fails the trial (a worker
/// that sends such a mask is broken or hostile; an honest one never does).
///
/// Trials are spread over ``lanes`` threads (a trial's jobs always go to the same lane, so they run in order):
/// by default one less than the machine's cores, at least one — decoding is what bounds the coordinator's
/// throughput, and it parallelises across trials.
///
/// Memory is bounded: at most ``byteLimit`` bytes of blobs wait (``submit(_:)`` blocks the caller until the
/// lane catches up, so ingestion slows to the audit's pace rather than growing the queue), plus one decoded mask
/// per trial in flight (``Job/forget(trialID:)`` drops it when the trial ends).
public final class MaskAudit: Sendable {
    public enum Job: Sendable {
        /// Round `round` of the trial trains with `mask` (decoded and checked by the coordinator itself).
        case seed(trialID: String, round: Int, mask: Mask)
        /// `next` was recorded with round `round` as the mask round `round + 1` trains with: decode it against the
        /// mask of round `round` — `mask`, a self-contained file, when given (round 0), else the mask the previous
        /// job of the trial left.
        case verify(trialID: String, round: Int, mask: [UInt8]?, next: [UInt8]?)
        /// The trial ended: drop its mask.
        case forget(trialID: String)

        var byteCount: Int {
            if case .verify(_, _, let mask, let next) = self { return (mask?.count ?? 0) + (next?.count ?? 0) }
            return 0
        }
    }

    public struct Failure: Sendable, Hashable {
        public var trialID: String
        public var round: Int
        public var reason: String
    }

    /// Bytes of queued blobs above which ``submit(_:)`` waits (split evenly over the lanes).
    public let byteLimit: Int
    /// Threads decoding, each with its own share of the trials.
    public var lanes: Int { laneList.count }
    private let laneList: [MaskAuditLane]

    /// Threads start with their first job and hold this object until ``stop()``.
    ///
    /// - Parameters:
    ///   - byteLimit: queued blob bytes above which ``submit(_:)`` waits.
    ///   - lanes: decoding threads; default one less than the active cores, at least 1.
    public init(byteLimit: Int = 64 << 20, lanes: Int? = nil) {
        let count = max(1, lanes ?? (ProcessInfo.processInfo.activeProcessorCount - 1))
        self.byteLimit = byteLimit
        laneList = (0..<count).map { MaskAuditLane(byteLimit: max(1, byteLimit / count), number: $0) }
    }

    /// Queues `job` on its trial's lane; waits first while that lane holds more than its share of ``byteLimit``.
    public func submit(_ job: Job) {
        let trialID: String
        switch job {
        case .seed(let id, _, _), .verify(let id, _, _, _), .forget(let id): trialID = id
        }
        // FNV-1a of the id: stable, and the same lane for every job of a trial.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in trialID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        laneList[Int(hash % UInt64(laneList.count))].submit(job)
    }

    /// The failures found since the last call.
    public func takeFailures() -> [Failure] { laneList.flatMap { $0.takeFailures() } }

    /// Whether every submitted job has been done.
    public var isIdle: Bool { laneList.allSatisfy(\.isIdle) }

    /// Blocks until every submitted job has been done.
    public func waitIdle() { for lane in laneList { lane.waitIdle() } }

    /// Next masks decoded so far, CPU seconds the lanes spent on jobs, and seconds ``submit(_:)`` waited for room.
    public var counters: (verified: Int, busySeconds: Double, waitSeconds: Double, queuedBytes: Int) {
        var total: (verified: Int, busySeconds: Double, waitSeconds: Double, queuedBytes: Int) = (0, 0, 0, 0)
        for lane in laneList {
            let c = lane.counters
            total.verified += c.verified
            total.busySeconds += c.busySeconds
            total.waitSeconds += c.waitSeconds
            total.queuedBytes += c.queuedBytes
        }
        return total
    }

    /// Stops every lane after the job in hand (queued jobs are dropped); call ``waitIdle()`` first to finish them.
    public func stop() { for lane in laneList { lane.stop() } }
}

/// One audit thread and its queue; see ``MaskAudit``.
final class MaskAuditLane: @unchecked Sendable {
    typealias Job = MaskAudit.Job
    typealias Failure = MaskAudit.Failure

    /// Bytes of queued blobs above which ``submit(_:)`` waits.
    let byteLimit: Int
    let number: Int

    // Not a `Mutex` (the package's one lock type): the lane's thread and `submit` must sleep until the queue
    // changes, which needs a condition variable; `NSCondition` is the lock and the condition in one.
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [Job] = []
    private var queueHead = 0
    private var queuedBytes = 0
    private var working = false
    private var stopping = false
    private var failures: [Failure] = []
    private var verifiedCount = 0
    private var busySeconds = 0.0
    private var waitSeconds = 0.0
    // Only the audit thread touches these.
    /// Per trial in flight, the mask its next round trains with, packed 1 bit per weight (33 KB for LeNet rather
    /// than the 266 KB of a decoded `Mask`), unpacked for the one decode that needs it.
    private var masks: [String: (round: Int, mask: PackedMask)] = [:]
    private var failed: Set<String> = []
    private var started = false

    /// The thread starts with the first job and holds this object until ``stop()``.
    init(byteLimit: Int, number: Int) {
        self.byteLimit = byteLimit
        self.number = number
    }

    /// Queues `job`; waits first while more than ``byteLimit`` bytes are queued.
    func submit(_ job: Job) {
        condition.lock()
        if !started, !stopping {
            started = true
            let thread = Thread { self.serve() }
            thread.name = "mask-audit-\(number)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        if queuedBytes > byteLimit {
            let start = ProcessInfo.processInfo.systemUptime
            while queuedBytes > byteLimit && !stopping { condition.wait() }
            waitSeconds += ProcessInfo.processInfo.systemUptime - start
        }
        queue.append(job)
        queuedBytes += job.byteCount
        condition.broadcast()
        condition.unlock()
    }

    /// The failures found since the last call.
    func takeFailures() -> [Failure] {
        condition.lock()
        defer { condition.unlock() }
        let taken = failures
        failures = []
        return taken
    }

    /// Whether every submitted job has been done.
    var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return queueHead == queue.count && !working
    }

    /// Blocks until every submitted job has been done.
    func waitIdle() {
        condition.lock()
        while (queueHead < queue.count || working) && !stopping { condition.wait() }
        condition.unlock()
    }

    /// Next masks decoded so far, CPU seconds the thread spent on jobs, and seconds ``submit(_:)`` waited for room.
    var counters: (verified: Int, busySeconds: Double, waitSeconds: Double, queuedBytes: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (verifiedCount, busySeconds, waitSeconds, queuedBytes)
    }

    /// Stops the thread after the job in hand (queued jobs are dropped); call ``waitIdle()`` first to finish them.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while queueHead == queue.count && !stopping { condition.wait() }
            if stopping {
                condition.unlock()
                return
            }
            let job = queue[queueHead]
            queueHead += 1
            if queueHead > 1024, queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            working = true
            condition.unlock()

            let start = threadCPUSeconds()
            let failure = run(job)
            let spent = threadCPUSeconds() - start

            condition.lock()
            working = false
            queuedBytes -= job.byteCount
            if case .verify = job { verifiedCount += 1 }
            busySeconds += spent
            if let failure { failures.append(failure) }
            condition.broadcast()
            condition.unlock()
        }
    }

    private func run(_ job: Job) -> Failure? {
        switch job {
        case .seed(let trialID, let round, let mask):
            guard !failed.contains(trialID) else { return nil }
            masks[trialID] = (round, PackedMask(mask))
            return nil
        case .forget(let trialID):
            masks[trialID] = nil
            failed.remove(trialID)
            return nil
        case .verify(let trialID, let round, let maskBytes, let nextBytes):
            guard !failed.contains(trialID) else { return nil }
            func fail(_ reason: String) -> Failure {
                failed.insert(trialID)
                masks[trialID] = nil
                return Failure(trialID: trialID, round: round, reason: reason)
            }
            if let maskBytes {
                do {
                    let mask = try MaskFile.decode(maskBytes)
                    masks[trialID] = (round, PackedMask(mask))
                } catch {
                    return fail("the mask of round \(round) does not decode: \(error)")
                }
            }
            guard let next = nextBytes else { return nil }
            guard let current = masks[trialID], current.round == round else {
                return fail(
                    "internal: no checked mask of round \(round) to check the next mask against; the round is not verified"
                )
            }
            do {
                let info = try MaskFile.info(next)
                if let parent = info.parentChecksum, parent != current.mask.checksum {
                    return fail(
                        "the next mask recorded with round \(round) is a delta against mask \(CoordinatorLoop.hex(parent)), not round \(round)'s mask \(CoordinatorLoop.hex(current.mask.checksum))"
                    )
                }
                let decoded = try MaskFile.decode(
                    next, parent: info.isDelta ? current.mask.unpacked : nil, parentChecksum: current.mask.checksum)
                masks[trialID] = (round + 1, PackedMask(decoded))
                return nil
            } catch {
                return fail("the next mask recorded with round \(round) does not decode: \(error)")
            }
        }
    }
}

/// CPU seconds the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`): what a thread costs, whatever else the
/// machine runs.
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// A mask kept 1 bit per weight (`MaskLayer.packedBits()`), with its checksum.
struct PackedMask {
    let shapes: [(rows: Int, cols: Int)]
    let layers: [[UInt8]]
    let checksum: UInt64

    init(_ mask: Mask) {
        shapes = mask.shapes
        layers = mask.layers.map { $0.packedBits() }
        checksum = mask.checksum
    }

    var unpacked: Mask {
        Mask(layers: zip(shapes, layers).map { MaskLayer(rows: $0.rows, cols: $0.cols, packed: $1) })
    }
}
