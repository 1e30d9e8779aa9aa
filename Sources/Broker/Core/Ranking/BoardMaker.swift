import Foundation
import PumasiShared

/// Makes leaderboards on a thread and a store connection of its own, so that the broker's loop goes on while one is
/// made.
///
/// A board ranks every submission of its challenge: 700 ms for one of 240,000 in a release build (`pumasi-bench
/// big-store 240000 0 1`). Made on the loop, that was 700 ms in which the broker answered nobody, sent no heartbeat
/// and took no result. Here the loop orders a board (`order`) once the pass that asked for it has committed, so the
/// board reads what that pass wrote; the maker reads everything it needs on one snapshot of the committed store
/// (`Store.reading`), encodes the reply, and wakes the loop through an inproc socket (`receiver`). The loop takes what
/// is done (`takeDone`) and answers.
///
/// A report's first page is made here too: it holds the challenge's boards (`Broker.reportReply`).
///
/// One at a time, in the order they were asked for: this machine has two cores, and the loop has one.
///
/// Thread rule: `order`, `takeDone` and `stop` from the broker's loop thread. The maker's store is opened on the
/// maker's thread when the first board is ordered, and lives there.
final class BoardMaker: @unchecked Sendable {
    // @unchecked Sendable: `orders`, `done`, `stopping` and `interrupter` are touched only under `condition`'s lock;
    // `thread` only on the loop's thread; the rest does not change.

    /// A reply to make: a board, or a report's first page (whose boards are its cost).
    struct Order: @unchecked Sendable {
        // @unchecked Sendable: `make` holds values only, and is handed over once under the lock.
        var ticket: Int
        /// A board's key; nil for a report.
        var key: LeaderboardCache.Key?
        /// The reply's JSON from the maker's store, read on one snapshot that began at the given time (`asOf`).
        /// A `ProtocolError` it throws is the client's reply.
        var make: (Store, Millis) throws -> Data

        /// Which making it is: a board's by its key (asked for again, it is made once), a report's by its ticket.
        var making: AnyHashable { key.map { AnyHashable($0) } ?? AnyHashable(ticket) }
    }

    /// A reply made, or why it could not be.
    struct Done {
        var ticket: Int
        var key: LeaderboardCache.Key?
        /// The reply's frames: the board, or an error for the client.
        var reply: [Data]
        var failure: String?
        /// When its making began (`WallClock.monotonicNanos`), and how long it took in nanoseconds.
        var began: UInt64
        var cost: UInt64
    }

    /// The loop polls it: readable when a board is done.
    let receiver: ZMQSocket
    private let endpoint: String
    private let context: ZMQContext
    private let location: StoreLocation
    private let clock: @Sendable () -> Millis
    private let condition = NSCondition()
    private var orders: [Order] = []
    private var done: [Done] = []
    private var stopping = false
    private var interrupter: SQLInterrupter?
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    init(location: StoreLocation, context: ZMQContext, clock: @escaping @Sendable () -> Millis) throws {
        self.location = location
        self.context = context
        self.clock = clock
        endpoint = "inproc://pumasi-boards-\(UUID().uuidString)"
        receiver = try ZMQSocket(context, .pull)
        try receiver.bind(endpoint)
    }

    /// Makes `order`'s board after those ordered before it. Starts the maker's thread the first time.
    func order(_ order: Order) {
        condition.lock()
        orders.append(order)
        condition.signal()
        condition.unlock()
        guard thread == nil else { return }
        let thread = Thread { [self] in
            nameCurrentThread("pumasi-boards")
            loop()
        }
        self.thread = thread
        thread.start()
    }

    /// The boards done since the last call, in the order they were made; drains the wake-ups.
    func takeDone() -> [Done] {
        while (try? receiver.receive(dontWait: true)) != nil {}
        condition.lock()
        defer { condition.unlock() }
        let taken = done
        done.removeAll()
        return taken
    }

    /// Interrupts the board being made (its query fails; one between two queries runs to its end), makes none of
    /// those ordered after it, and waits up to `stopWaitSeconds` for the thread to end. What it made is still taken
    /// by the next `takeDone`.
    func stop() {
        guard thread != nil else { return }
        condition.lock()
        stopping = true
        let interrupter = interrupter
        condition.signal()
        condition.unlock()
        // Outside the lock: `PQcancel` is a round trip to the server.
        interrupter?.interrupt()
        // A thread still in a query after that (a server that does not answer) is left to end on its own; its
        // sockets keep the context alive until it does.
        _ = finished.wait(timeout: .now() + Self.stopWaitSeconds)
        thread = nil
    }

    static let stopWaitSeconds = 10.0

    private func loop() {
        defer { finished.signal() }
        // The wake-up's socket belongs to this thread: made here, and closed here before the broker ends its context.
        let wake = try? ZMQSocket(context, .push)
        if let wake { try? wake.connect(endpoint) }
        var store: Store?
        while true {
            condition.lock()
            while orders.isEmpty, !stopping { condition.wait() }
            guard !stopping else {
                interrupter = nil
                condition.unlock()
                return
            }
            let order = orders.removeFirst()
            condition.unlock()
            let began = WallClock.monotonicNanos()
            var result = Done(ticket: order.ticket, key: order.key, reply: [], failure: nil, began: began, cost: 0)
            do {
                let reply: Data
                if let opened = store {
                    do {
                        reply = try make(order, on: opened)
                    } catch let error as DatabaseError where error.kind == .connection && !isStopping {
                        // A connection that was lost (a server restarted, a session ended as idle) is opened anew,
                        // once.
                        store = nil
                        let reopened = try open()
                        store = reopened
                        reply = try make(order, on: reopened)
                    }
                } else {
                    let opened = try open()
                    store = opened
                    reply = try make(order, on: opened)
                }
                result.reply = [reply]
            } catch let error as ProtocolError {
                result.reply = [Wire.encode(Reply<Empty>.failure(error))]
            } catch {
                store = nil
                result.failure = "\(error)"
                // The store's own words go to the broker's log (`Broker.answerBoards`), not to the client.
                result.reply = [
                    Wire.encode(
                        Reply<Empty>.failure(
                            ProtocolError(.internal, "the broker could not make the reply; try again later")))
                ]
            }
            result.cost = WallClock.monotonicNanos() &- began
            condition.lock()
            done.append(result)
            condition.unlock()
            _ = try? wake?.send([Data()], dontWait: true)
        }
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Opens the maker's own store, and what stops its queries from the loop's thread.
    private func open() throws -> Store {
        let opened = try Store(location: location, applicationName: "pumasi-broker boards", create: false)
        // The broker's own connection hears of revoked keys; this one reads boards, and would only queue the news.
        if location.isPostgreSQL { try opened.db.execute("UNLISTEN *") }
        condition.lock()
        interrupter = opened.makeInterrupter()
        let stopped = stopping
        condition.unlock()
        // A stop that came while it opened found nothing to interrupt.
        if stopped { throw CancellationError() }
        return opened
    }

    private func make(_ order: Order, on store: Store) throws -> Data {
        try store.reading { try order.make(store, clock()) }
    }
}
