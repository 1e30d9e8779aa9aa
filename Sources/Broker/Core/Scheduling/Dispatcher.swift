import Foundation
import PumasiShared

/// What a job scores: a submission (its row number), under a scorer version, as one replica (0 unless the
/// challenge asks for redundant scoring). The job id on the wire packs the three: row << 20 | version << 8 |
/// replica.
struct JobKey: Hashable {
    var row: Int64
    var version: Int
    var replica: Int

    init(row: Int64, version: Int, replica: Int = 0) {
        self.row = row
        self.version = version
        self.replica = replica
    }

    init(id: Int64) {
        row = id >> 20
        version = Int((id >> 8) & 0xFFF)
        replica = Int(id & 0xFF)
    }

    var id: Int64 { row << 20 | Int64(version & 0xFFF) << 8 | Int64(replica & 0xFF) }

    /// The most versions and replicas a job id can name.
    static let maxVersion = 0xFFF
    static let maxReplicas = 0xFF
}

/// A job leased to one evaluator: the lease is the (job, attempt) pair, answered only by that evaluator.
struct Lease {
    var job: Int64
    var key: JobKey { JobKey(id: job) }
    /// 1 + the attempts that failed before this one.
    var attempt: Int
    var evaluator: Data
    /// The evaluator's principal (see `Dispatcher.Evaluator.principal`).
    var principal: String
    var expires: Millis
    var submission: String
    var challenge: String
    var solver: String
    /// The queue the job came from, and goes back to (`Dispatcher.enqueue`).
    var service: String
}

/// A job waiting for an evaluator.
struct QueuedJob: Equatable {
    var id: Int64
    /// Attempts that already failed (lost evaluator, expired lease, unreadable answer).
    var failedAttempts: Int
}

/// The evaluators the broker knows, the jobs waiting per queue, and the leases in flight.
///
/// A queue is a scorer service (`pumasi.builtin`, `pumasi.plugin.NAME`), shared by the evaluators bound to no one;
/// or, for a challenge that wants its own evaluators, `SERVICE@CHALLENGE`, served only by the evaluators registered
/// for that service whose binding covers the challenge (its seeker, or itself). So a plugin name is per binding: an
/// evaluator gets the jobs of no queue outside its binding, whatever service it names. Plain
/// in-memory state owned by the broker's loop, never stored: the store holds submissions, outcomes and failed
/// attempts, and this is rebuilt from them on start (the leases of a previous run died with it).
struct Dispatcher {
    struct Evaluator {
        var identity: Data
        /// Who it is: its principal with authentication, its connection without. Redundant replicas of one
        /// submission go to different ones.
        var principal: String
        var service: String
        /// Bound to a seeker or a challenge: it serves only the own-evaluator queues of its binding.
        var scope: EvaluatorScope?
        var expiresAt: Millis
        /// The jobs of the REQUEST it is working on, in order; empty when idle.
        var batch: [Int64]
    }

    private(set) var evaluators: [Data: Evaluator] = [:]
    private(set) var leases: [Int64: Lease] = [:]
    /// Idle evaluators bound to no one, and bound ones, by service.
    private var idle: [String: [Data]] = [:]
    private var boundIdle: [String: [Data]] = [:]
    private var queues: [String: JobQueue] = [:]
    /// The own-evaluator queues of each service: queue name → the challenge and its seeker.
    private var ownQueues: [String: [String: (challenge: String, owner: String?)]] = [:]

    /// The queue of a challenge's jobs.
    static func queue(service: String, challenge: String, own: Bool) -> String {
        own ? service + "@" + challenge : service
    }

    mutating func register(
        _ identity: Data, principal: String, service: String, scope: EvaluatorScope? = nil, expiresAt: Millis
    ) {
        evaluators[identity] = Evaluator(
            identity: identity, principal: principal, service: service, scope: scope, expiresAt: expiresAt, batch: [])
        makeIdle(identity, service: service, bound: scope != nil)
    }

    private mutating func makeIdle(_ identity: Data, service: String, bound: Bool) {
        if bound {
            boundIdle[service, default: []].append(identity)
        } else {
            idle[service, default: []].append(identity)
        }
    }

    /// Forgets an evaluator. - Returns: the leases it was holding (now ended).
    mutating func remove(_ identity: Data) -> [Lease] {
        guard let evaluator = evaluators.removeValue(forKey: identity) else { return [] }
        if evaluator.scope != nil {
            boundIdle[evaluator.service]?.removeAll { $0 == identity }
        } else {
            idle[evaluator.service]?.removeAll { $0 == identity }
        }
        var lost: [Lease] = []
        for job in evaluator.batch {
            guard let lease = leases[job], lease.evaluator == identity else { continue }
            leases[job] = nil
            lost.append(lease)
        }
        return lost
    }

    mutating func touch(_ identity: Data, expiresAt: Millis) {
        evaluators[identity]?.expiresAt = expiresAt
    }

    /// The evaluator answered (or abandoned) its batch and can take another.
    mutating func release(_ identity: Data) {
        guard var evaluator = evaluators[identity], !evaluator.batch.isEmpty else { return }
        evaluator.batch = []
        evaluators[identity] = evaluator
        makeIdle(identity, service: evaluator.service, bound: evaluator.scope != nil)
    }

    func isServed(_ service: String) -> Bool { evaluators.values.contains { $0.service == service } }

    /// Whether an evaluator that may take this challenge's jobs is connected.
    func isServed(_ service: String, challenge: String, owner: String?, own: Bool) -> Bool {
        evaluators.values.contains {
            $0.service == service
                && (own ? $0.scope?.covers(challenge: challenge, owner: owner) == true : $0.scope == nil)
        }
    }

    /// Queues a job. - Parameter owner: for an own-evaluator queue (`queue(service:challenge:own:)`), the seeker of
    /// its challenge; the queue remembers it.
    mutating func enqueue(_ job: QueuedJob, service queue: String, owner: String? = nil) {
        // Found in the name's bytes: a search by Character cost a visible share of the broker's time per job.
        if let at = queue.utf8.firstIndex(of: UInt8(ascii: "@")) {
            let service = String(queue[..<at])
            if ownQueues[service]?[queue] == nil {
                ownQueues[service, default: [:]][queue] = (String(queue[queue.utf8.index(after: at)...]), owner)
            }
        }
        queues[queue, default: JobQueue()].push(job)
    }

    /// Pairs the oldest queued jobs with the longest-idle evaluator of the same service. A batch takes the
    /// evaluator's fair share of the queue (the queue over the idle evaluators), but at least `batch(service).least`
    /// jobs while the queue has them, and at most `batch(service).most`.
    mutating func nextAssignment(batch: (String) -> (least: Int, most: Int)) -> (jobs: [QueuedJob], evaluator: Data)? {
        for (service, waiting) in idle where !waiting.isEmpty {
            guard var queue = queues[service], queue.count > 0 else { continue }
            let (least, most) = batch(service)
            let share = min(max((queue.count + waiting.count - 1) / waiting.count, least), most)
            var jobs: [QueuedJob] = []
            while jobs.count < max(1, share), let job = queue.pop() { jobs.append(job) }
            queues[service] = queue
            let identity = waiting[0]
            idle[service]?.removeFirst()
            evaluators[identity]?.batch = jobs.map(\.id)
            return (jobs, identity)
        }
        // Bound evaluators, each to the own-evaluator queues its binding covers.
        for (service, waiting) in boundIdle where !waiting.isEmpty {
            guard let own = ownQueues[service] else { continue }
            let most = max(1, batch(service).most)
            for (index, identity) in waiting.enumerated() {
                guard let scope = evaluators[identity]?.scope else { continue }
                for (name, queueOf) in own where scope.covers(challenge: queueOf.challenge, owner: queueOf.owner) {
                    guard var queue = queues[name], queue.count > 0 else { continue }
                    var jobs: [QueuedJob] = []
                    while jobs.count < most, let job = queue.pop() { jobs.append(job) }
                    queues[name] = queue
                    boundIdle[service]?.remove(at: index)
                    evaluators[identity]?.batch = jobs.map(\.id)
                    return (jobs, identity)
                }
            }
        }
        return nil
    }

    /// Records a lease granted for an assignment.
    mutating func grant(_ lease: Lease) { leases[lease.job] = lease }

    /// Drops a job the evaluator was given but never received (its submission could not be read).
    mutating func withdraw(_ job: Int64, from identity: Data) {
        evaluators[identity]?.batch.removeAll { $0 == job }
        if let evaluator = evaluators[identity], evaluator.batch.isEmpty {
            makeIdle(identity, service: evaluator.service, bound: evaluator.scope != nil)
        }
    }

    /// Ends a lease (answered, expired, or lost). The evaluator stays busy until it answers or goes.
    @discardableResult
    mutating func endLease(_ job: Int64) -> Lease? { leases.removeValue(forKey: job) }

    /// Idle evaluators that have been silent past their expiry. A busy one is not judged by its silence:
    /// zguide-style workers send no heartbeats while they work. Its lease expiry covers a hung evaluator, and
    /// a failed heartbeat send (EHOSTUNREACH) covers a vanished one.
    func expired(now: Millis) -> [Data] {
        evaluators.values.filter { $0.batch.isEmpty && $0.expiresAt <= now }.map(\.identity)
    }

    /// Leases past their expiry.
    func expiredLeases(now: Millis) -> [Lease] { leases.values.filter { $0.expires <= now } }

    var nextLeaseExpiry: Millis? { leases.values.lazy.map(\.expires).min() }

    var queuedCount: Int { queues.values.reduce(0) { $0 + $1.count } }
}

/// A FIFO of jobs with O(1) amortised push and pop.
struct JobQueue {
    private var items: [QueuedJob] = []
    private var head = 0

    var count: Int { items.count - head }

    mutating func push(_ job: QueuedJob) { items.append(job) }

    mutating func pop() -> QueuedJob? {
        guard head < items.count else { return nil }
        let job = items[head]
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return job
    }
}

/// The replicas of one submission under one scorer version (redundant scoring): how many were issued, and
/// which evaluators took one, so that no evaluator scores the same submission twice.
struct ReplicaState {
    var count = 0
    var principals: Set<String> = []
}
