import Foundation
import Testing

@testable import PumasiBroker

/// How the dispatcher cuts a queue into batches for idle evaluator connections.
@Suite("Dispatcher batches")
struct DispatcherTests {
    static func dispatcher(connections: Int, jobs: Int) -> Dispatcher {
        var dispatcher = Dispatcher()
        for index in 0..<connections {
            dispatcher.register(Data("c\(index)".utf8), principal: "e", service: "pumasi.builtin", expiresAt: 0)
        }
        for id in 0..<jobs {
            dispatcher.enqueue(QueuedJob(id: Int64(id), failedAttempts: 0), service: "pumasi.builtin")
        }
        return dispatcher
    }

    /// The sizes of the batches handed out until the queue or the idle connections run out, in order.
    static func batches(_ dispatcher: inout Dispatcher, least: Int, most: Int) -> [Int] {
        var sizes: [Int] = []
        while let (jobs, _) = dispatcher.nextAssignment(batch: { _ in (least, most) }) { sizes.append(jobs.count) }
        return sizes
    }

    @Test func aConnectionTakesAtLeastTheLeastWhileTheQueueHasIt() {
        // 20 jobs, 8 idle connections: a fair share would be 3 each; at least 16 means one batch of 16, then 4.
        var dispatcher = Self.dispatcher(connections: 8, jobs: 20)
        #expect(Self.batches(&dispatcher, least: 16, most: 32) == [16, 4])
        // Without a least, the queue is spread over every idle connection, each its share of what is left.
        var spread = Self.dispatcher(connections: 8, jobs: 20)
        #expect(Self.batches(&spread, least: 1, most: 32) == [3, 3, 3, 3, 2, 2, 2, 2])
    }

    @Test func aLongQueueIsSharedAndNoBatchPassesTheMost() {
        // 400 jobs over 8 connections: a share of 50 each, cut to the most, 32.
        var dispatcher = Self.dispatcher(connections: 8, jobs: 400)
        #expect(Self.batches(&dispatcher, least: 16, most: 32) == Array(repeating: 32, count: 8))
        // 200 jobs over 8: a share of 25 each, above the least and under the most.
        var shared = Self.dispatcher(connections: 8, jobs: 200)
        #expect(Self.batches(&shared, least: 16, most: 32) == Array(repeating: 25, count: 8))
    }

    @Test func anOwnEvaluatorQueueGoesToTheEvaluatorsBoundToItsChallengeOrSeeker() throws {
        var dispatcher = Dispatcher()
        let queue = Dispatcher.queue(service: "pumasi.builtin", challenge: "ch_x", own: true)
        #expect(queue == "pumasi.builtin@ch_x")
        for id in 0..<3 {
            dispatcher.enqueue(QueuedJob(id: Int64(id), failedAttempts: 0), service: queue, owner: "acme")
        }
        // An unbound evaluator and one bound to another seeker get nothing of it.
        dispatcher.register(Data("free".utf8), principal: "e1", service: "pumasi.builtin", expiresAt: 0)
        dispatcher.register(
            Data("other".utf8), principal: "e2", service: "pumasi.builtin", scope: .seeker("globex"), expiresAt: 0)
        #expect(dispatcher.nextAssignment(batch: { _ in (16, 32) }) == nil)
        dispatcher.register(
            Data("acme".utf8), principal: "e3", service: "pumasi.builtin", scope: .seeker("acme"), expiresAt: 0)
        let assignment = dispatcher.nextAssignment(batch: { _ in (16, 32) })
        let (jobs, evaluator) = try #require(assignment)
        #expect(evaluator == Data("acme".utf8))
        #expect(jobs.map(\.id) == [0, 1, 2])
    }

    @Test func oneJobAtATimeWhereTheMostIsOne() {
        var dispatcher = Self.dispatcher(connections: 3, jobs: 5)
        #expect(Self.batches(&dispatcher, least: 1, most: 1) == [1, 1, 1])
    }
}
