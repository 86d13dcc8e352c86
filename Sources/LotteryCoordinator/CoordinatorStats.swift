/// Timing counters of one coordinator run, for benchmarks (`lth bench sweep`) and capacity planning.
///
/// Times are seconds on the coordinator's monotonic clock, relative to the coordinator's start. Collected on the
/// coordinator thread only; memory is bounded by the number of TASKs sent (one `Double` each).
public struct CoordinatorStats: Sendable, Hashable {
    /// For each TASK that answered a READY: seconds from the READY's arrival to the TASK's send. A READY that never
    /// gets a TASK (nothing left to run) is not counted; with several slots only the first TASK answering a READY is.
    public var readyToTask: [Double] = []
    /// When the first TASK was sent, and when the last round result was recorded.
    public var firstTaskAt: Double?
    public var lastRecordAt: Double?
    /// Round results recorded by this run.
    public var roundsRecorded = 0
    /// Seconds spent recording results in the store (mask files, fsyncs, SQLite commits), and in checking their
    /// masks (decode, shapes, nesting) before that.
    public var storeSeconds: Double = 0
    public var checkSeconds: Double = 0
    /// Store commits (with group commit, fewer than ``roundsRecorded``).
    public var commits = 0
    /// Results whose `mask` was byte for byte the recorded next mask (checked without decoding; their next mask
    /// went to the audit thread).
    public var fastPathResults = 0
    /// CPU seconds of the coordinator thread over the run (receive, checks, scheduling, store, sends; not the audit).
    public var loopCPUSeconds: Double = 0
    /// Next masks the audit thread decoded, the CPU seconds it spent on them, and the seconds the coordinator thread
    /// waited for room in its queue (ingestion faster than the audit).
    public var auditedMasks = 0
    /// Audit threads (``MaskAudit/lanes``).
    public var auditLanes = 0
    public var auditSeconds: Double = 0
    public var auditWaitSeconds: Double = 0
    /// When the audit had checked everything (at the end of the run), like ``lastRecordAt``.
    public var auditDoneAt: Double?

    public init() {}

    /// The `q`-quantile (0…1) of ``readyToTask`` (nearest rank), or `nil` when empty.
    public func readyToTaskQuantile(_ q: Double) -> Double? {
        guard !readyToTask.isEmpty else { return nil }
        let sorted = readyToTask.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}
