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
/// Memory is bounded: at most ``byteLimit`` bytes of blobs wait (``submit(_:)`` blocks the caller until the
/// thread catches up, so ingestion slows to the audit's pace rather than growing the queue), plus one decoded mask
/// per trial in flight (``Job/forget(trialID:)`` drops it when the trial ends).
public final class MaskAudit: @unchecked Sendable {
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

    /// Bytes of queued blobs above which ``submit(_:)`` waits.
    public let byteLimit: Int

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
    private var masks: [String: (round: Int, mask: Mask, checksum: UInt64)] = [:]
    private var failed: Set<String> = []
    private var started = false

    /// The thread starts with the first job and holds this object until ``stop()``.
    public init(byteLimit: Int = 64 << 20) {
        self.byteLimit = byteLimit
    }

    /// Queues `job`; waits first while more than ``byteLimit`` bytes are queued.
    public func submit(_ job: Job) {
        condition.lock()
        if !started, !stopping {
            started = true
            let thread = Thread { self.serve() }
            thread.name = "mask-audit"
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
    public func takeFailures() -> [Failure] {
        condition.lock()
        defer { condition.unlock() }
        let taken = failures
        failures = []
        return taken
    }

    /// Whether every submitted job has been done.
    public var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return queueHead == queue.count && !working
    }

    /// Blocks until every submitted job has been done.
    public func waitIdle() {
        condition.lock()
        while (queueHead < queue.count || working) && !stopping { condition.wait() }
        condition.unlock()
    }

    /// Next masks decoded so far, CPU seconds the thread spent on jobs, and seconds ``submit(_:)`` waited for room.
    public var counters: (verified: Int, busySeconds: Double, waitSeconds: Double, queuedBytes: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (verifiedCount, busySeconds, waitSeconds, queuedBytes)
    }

    /// Stops the thread after the job in hand (queued jobs are dropped); call ``waitIdle()`` first to finish them.
    public func stop() {
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
            masks[trialID] = (round, mask, mask.checksum)
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
                    masks[trialID] = (round, mask, mask.checksum)
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
                if let parent = info.parentChecksum, parent != current.checksum {
                    return fail(
                        "the next mask recorded with round \(round) is a delta against mask \(CoordinatorLoop.hex(parent)), not round \(round)'s mask \(CoordinatorLoop.hex(current.checksum))"
                    )
                }
                let decoded = try MaskFile.decode(
                    next, parent: info.isDelta ? current.mask : nil, parentChecksum: current.checksum)
                masks[trialID] = (round + 1, decoded, decoded.checksum)
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
