import Foundation
import PumasiShared

/// The evaluators the broker knows, the jobs waiting per service, and who holds which lease.
/// Plain in-memory state owned by the broker's loop; the store is the truth about jobs.
struct Dispatcher {
    struct Evaluator {
        var identity: Data
        var service: String
        var expiresAt: Millis
        var job: Int64?
    }

    private(set) var evaluators: [Data: Evaluator] = [:]
    private var idle: [String: [Data]] = [:]
    private var queues: [String: JobQueue] = [:]

    mutating func register(_ identity: Data, service: String, expiresAt: Millis) {
        evaluators[identity] = Evaluator(identity: identity, service: service, expiresAt: expiresAt, job: nil)
        idle[service, default: []].append(identity)
    }

    /// Forgets an evaluator. - Returns: the job it was holding, if any.
    mutating func remove(_ identity: Data) -> Int64? {
        guard let evaluator = evaluators.removeValue(forKey: identity) else { return nil }
        idle[evaluator.service]?.removeAll { $0 == identity }
        return evaluator.job
    }

    mutating func touch(_ identity: Data, expiresAt: Millis) {
        evaluators[identity]?.expiresAt = expiresAt
    }

    /// The evaluator finished (or abandoned) its job and can take another.
    mutating func release(_ identity: Data) {
        guard var evaluator = evaluators[identity], evaluator.job != nil else { return }
        evaluator.job = nil
        evaluators[identity] = evaluator
        idle[evaluator.service, default: []].append(identity)
    }

    func isServed(_ service: String) -> Bool { evaluators.values.contains { $0.service == service } }

    mutating func enqueue(job: Int64, service: String) { queues[service, default: JobQueue()].push(job) }

    /// Pairs queued jobs with idle evaluators of the same service, oldest job and longest-idle evaluator first.
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

    /// Gives a job back to its evaluator's record when the lease could not be granted after all.
    mutating func unassign(_ identity: Data) { release(identity) }

    /// Evaluators that have been silent past their expiry.
    func expired(now: Millis) -> [Data] { evaluators.values.filter { $0.expiresAt <= now }.map(\.identity) }

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
