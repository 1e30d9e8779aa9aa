import Synchronization

/// Where a lone job's time goes: timestamps taken at fixed points of its path by the broker, the evaluators and
/// `pumasi-bench`, which runs them all in one process. Off unless the benchmark turns it on around a serial run
/// (`PUMASI_BENCH_STEPS=1`); while off, a mark costs one atomic load and a branch.
public enum StepTrace {
    /// The points marked, in the order a lone job usually passes them.
    public enum Step: UInt8, Sendable {
        /// The benchmark sent a submission, or the store floor began a job: where a job's marks start.
        case sent
        /// The broker's poll returned with its router readable.
        case brokerWoke
        /// The broker handled one message.
        case handled
        /// The broker sent a job to an evaluator.
        case jobSent
        /// An evaluator connection received a job.
        case evaluatorReceived
        /// An evaluator connection sent its result.
        case evaluatorReplied
        /// A store transaction's writes are done; its commit (and its sync) comes next.
        case written
        /// A store transaction committed.
        case committed
        /// The broker sent what a committed pass produced.
        case flushed
        /// The benchmark received a receipt.
        case receipt
        /// The benchmark received the job's scored announcement, or the store floor finished a job.
        case finished

        public var name: String {
            switch self {
            case .sent: "sent"
            case .brokerWoke: "broker-woke"
            case .handled: "handled"
            case .jobSent: "job-sent"
            case .evaluatorReceived: "evaluator-received"
            case .evaluatorReplied: "evaluator-replied"
            case .written: "written"
            case .committed: "committed"
            case .flushed: "flushed"
            case .receipt: "receipt"
            case .finished: "finished"
            }
        }
    }

    public struct Mark: Sendable {
        public var nanos: UInt64
        public var step: Step
        public init(nanos: UInt64, step: Step) {
            self.nanos = nanos
            self.step = step
        }
    }

    /// At most this many marks are kept: a serial job takes about 20, so 50,000 jobs.
    static let capacity = 1 << 20

    private static let on = Atomic<Bool>(false)
    private static let marks = Mutex<[Mark]>([])

    @inline(__always) public static func mark(_ step: Step) {
        guard on.load(ordering: .relaxed) else { return }
        let now = WallClock.monotonicNanos()
        marks.withLock { if $0.count < capacity { $0.append(Mark(nanos: now, step: step)) } }
    }

    /// Starts recording, forgetting any marks from before.
    public static func start() {
        marks.withLock {
            $0.removeAll(keepingCapacity: true)
            $0.reserveCapacity(capacity)
        }
        on.store(true, ordering: .releasing)
    }

    /// Stops recording and returns the marks taken since `start`.
    public static func stop() -> [Mark] {
        on.store(false, ordering: .releasing)
        return marks.withLock {
            let taken = $0
            $0 = []
            return taken
        }
    }

    /// One line of a summary: a step's `occurrence`-th mark within a job (from 1), the median time from the job's
    /// `sent` to it, and the median time from the mark before it in the same job (a commit's own duration, say),
    /// over the jobs that have it.
    public struct Summary: Equatable, Sendable {
        public var label: String
        public var p50Micros: Double
        public var sinceLastMicros: Double
        public var jobs: Int
        public init(label: String, p50Micros: Double, sinceLastMicros: Double, jobs: Int) {
            self.label = label
            self.p50Micros = p50Micros
            self.sinceLastMicros = sinceLastMicros
            self.jobs = jobs
        }
    }

    /// Splits `marks` into jobs at each `sent` (marks before the first are dropped) and gives, for each step and
    /// its occurrence within a job, the median time from `sent`, ordered by that median. Jobs run one at a time, so
    /// every mark between two `sent`s belongs to the first one's job.
    public static func summary(_ marks: [Mark]) -> [Summary] {
        var offsets: [String: (fromStart: [Double], sinceLast: [Double])] = [:]
        var start: UInt64?
        var last: UInt64 = 0
        var seen: [Step: Int] = [:]
        for mark in marks {
            if mark.step == .sent {
                start = mark.nanos
                last = mark.nanos
                seen.removeAll(keepingCapacity: true)
                continue
            }
            guard let start else { continue }
            let occurrence = seen[mark.step, default: 0] + 1
            seen[mark.step] = occurrence
            let label = occurrence == 1 ? mark.step.name : "\(mark.step.name)#\(occurrence)"
            offsets[label, default: ([], [])].fromStart.append(Double(mark.nanos &- start) / 1_000)
            offsets[label, default: ([], [])].sinceLast.append(Double(mark.nanos &- last) / 1_000)
            last = mark.nanos
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        return offsets.map { label, values in
            Summary(
                label: label, p50Micros: median(values.fromStart), sinceLastMicros: median(values.sinceLast),
                jobs: values.fromStart.count)
        }.sorted { ($0.p50Micros, $0.label) < ($1.p50Micros, $1.label) }
    }
}
