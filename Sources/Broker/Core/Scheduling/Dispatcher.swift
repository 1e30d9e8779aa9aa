import Foundation
import PumasiShared

/// A job leased to one evaluator: the lease is the (job, attempt) pair, answered only by that evaluator.
struct Lease {
    var job: Int64
    var attempt: Int
    /// Earlier attempts voided by broker restarts.
    var restarts: Int
    var evaluator: Data
    var expires: Millis
    var submission: String
    var challenge: String
    var solver: String
    var service: String
}

/// The evaluators the broker knows, the jobs waiting per service, and the leases in flight. Plain
/// in-memory state owned by the broker's loop; the store is the truth about jobs, and this is rebuilt from
/// it on start (every lease of a previous run is void and its job requeued).
struct Dispatcher {
    struct Evaluator {
        var identity: Data
        var service: String
        var expiresAt: Millis
        var job: Int64?
    }

    private(set) var evaluators: [Data: Evaluator] = [:]
    private(set) var leases: [Int64: Lease] = [:]
    private var idle: [String: [Data]] = [:]
    private var queues: [String: JobQueue] = [:]

    mutating func register(_ identity: Data, service: String, expiresAt: Millis) {
        evaluators[identity] = Evaluator(identity: identity, service: service, expiresAt: expiresAt, job: nil)
        idle[service, default: []].append(identity)
    }

    /// Forgets an evaluator. - Returns: the lease it was holding, if any (now ended).
    mutating func remove(_ identity: Data) -> Lease? {
        guard let evaluator = evaluators.removeValue(forKey: identity) else { return nil }
        idle[evaluator.service]?.removeAll { $0 == identity }
        guard let job = evaluator.job, let lease = leases[job], lease.evaluator == identity else { return nil }
        leases[job] = nil
        return lease
    }

    mutating func touch(_ identity: Data, expiresAt: Millis) {
        evaluators[identity]?.expiresAt = expiresAt
    }

    /// The evaluator answered (or abandoned) its job and can take another.
    mutating func release(_ identity: Data) {
        guard var evaluator = evaluators[identity], evaluator.job != nil else { return }
        evaluator.job = nil
        evaluators[identity] = evaluator
        idle[evaluator.service, default: []].append(identity)
    }

    func isServed(_ service: String) -> Bool { evaluators.values.contains { $0.service == service } }

    mutating func enqueue(job: Int64, service: String) { queues[service, default: JobQueue()].push(job) }

    /// Pairs the oldest queued job with the longest-idle evaluator of the same service.
    mutating func nextAssignment() -> (job: Int64, evaluator: Data)? {
        for (service, waiting) in idle where !waiting.isEmpty {
            guard var queue = queues[service], let job = queue.pop() else { continue }
            queues[service] = queue
            let identity = waiting[0]
            idle[service]?.removeFirst()
            evaluators[identity]?.job = job
            return (job, identity)
        }
        return nil
    }

    /// Records the lease the store granted for an assignment.
    mutating func grant(_ lease: Lease) { leases[lease.job] = lease }

    /// Ends a lease (answered, expired, or lost). The evaluator stays busy until it answers or goes.
    @discardableResult
    mutating func endLease(_ job: Int64) -> Lease? { leases.removeValue(forKey: job) }

    /// Idle evaluators that have been silent past their expiry. A busy one is not judged by its silence:
    /// zguide-style workers send no heartbeats while they work. Its lease expiry covers a hung evaluator, and
    /// a failed heartbeat send (EHOSTUNREACH) covers a vanished one.
    func expired(now: Millis) -> [Data] {
        evaluators.values.filter { $0.job == nil && $0.expiresAt <= now }.map(\.identity)
    }

    /// Leases past their expiry.
    func expiredLeases(now: Millis) -> [Lease] { leases.values.filter { $0.expires <= now } }

    var nextLeaseExpiry: Millis? { leases.values.lazy.map(\.expires).min() }

    var queuedCount: Int { queues.values.reduce(0) { $0 + $1.count } }
}

/// A FIFO of job ids with O(1) amortised push and pop.
struct JobQueue {
    private var items: [Int64] = []
    private var head = 0

    var count: Int { items.count - head }

    mutating func push(_ job: Int64) { items.append(job) }

    mutating func pop() -> Int64? {
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
