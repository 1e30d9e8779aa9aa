import Foundation
import PumasiShared

/// A leaderboard or report request that waits for its reply from the board maker, asked in the pass under way.
struct BoardAsk {
    var order: BoardMaker.Order
    var identity: Data
    /// The service to answer on: `pumasi.leaderboard`, or `pumasi.challenge.report`.
    var service: String
    /// Whose admission pays for the making beyond the ordinary (`Admission.charge`), when admission is on.
    var payer: Admission.Key?
}

/// A board being made, and who waits for it.
struct BoardMaking {
    var waiters: [Data]
    var payer: Admission.Key?
    /// `LeaderboardCache.forgettings` when the board was ordered: a board something was forgotten beside is given to
    /// its waiters, not kept.
    var forgettings: Int
    /// Asked for after something was forgotten beside this making (a disqualification acknowledged, say): they must
    /// see the change, so they wait for a making of their own, ordered when this one is done.
    var next: [BoardAsk] = []
}

/// `pumasi.leaderboard` off the loop: a board kept young enough is given at once (`LeaderboardCache`); any other is
/// made by the `BoardMaker` after the pass commits, and each request for it, the same (challenge, phase, view,
/// limit), waits for that one making.
extension Broker {
    /// Boards being made or asked for at once, beyond which a request for another is answered busy.
    static let boardsAtOnce = 16
    /// The same, for the boards one sender's requests ordered (with admission on): a sender pays for a board's making
    /// once it is done, so without this one sender could order the 16 at once before paying for any.
    static let boardsPerSender = 2

    /// The reply to a leaderboard request checked for its sender: a board kept young enough, or nil when one is to be
    /// made (the reply comes when it is: `answerBoards`).
    func leaderboardReply(_ request: LeaderboardRequest, sender: Sender?, identity: Data) throws -> [Data]? {
        let (record, view, phase) = try leaderboardScope(request, sender: sender)
        // A negative limit is no limit (`Store.leaderboard`): one board, not two.
        let limit = request.limit.flatMap { $0 < 0 ? nil : $0 }
        let key = LeaderboardCache.Key(
            challenge: record.id, phase: phase, view: view, limit: limit, state: record.state,
            scorerVersion: record.scorerVersion, currentPhase: record.currentPhase)
        if let kept = leaderboards.given(key, now: WallClock.monotonicNanos()) { return kept }
        let payer = admission.isOn ? admissionKey(identity, sender) : nil
        try checkRoomForAMaking(key, payer: payer)
        askMaker(key: key, identity: identity, service: Service.leaderboard, payer: payer) { store, asOf in
            Wire.encode(
                Reply.success(try store.leaderboard(record, view: view, limit: limit, phase: phase, asOf: asOf)))
        }
        return nil
    }

    /// Asks the board maker for a reply, once this pass has committed (`orderBoards`).
    func askMaker(
        key: LeaderboardCache.Key?, identity: Data, service: String, payer: Admission.Key?,
        make: @escaping (Store, Millis) throws -> Data
    ) {
        boardTickets += 1
        boardsAsked.append(
            BoardAsk(
                order: BoardMaker.Order(ticket: boardTickets, key: key, make: make), identity: identity,
                service: service, payer: payer))
    }

    /// Throws busy when the making a request needs (a board's, by its `key`; a report's, always new: nil) is not
    /// under way or asked for yet, and would be one too many: in all, or for the sender (`payer`).
    func checkRoomForAMaking(_ key: LeaderboardCache.Key?, payer: Admission.Key?) throws {
        // Every making under way or asked for in this pass, once each, and those the sender's requests ordered.
        var makings: Set<AnyHashable> = []
        var theirs = 0
        func count(_ making: AnyHashable, orderedBy orderer: Admission.Key?) {
            guard makings.insert(making).inserted else { return }
            if let payer, orderer == payer { theirs += 1 }
        }
        for (key, making) in boardsMaking { count(key, orderedBy: making.payer) }
        for (ticket, ask) in reportsMaking { count(ticket, orderedBy: ask.payer) }
        for ask in boardsAsked { count(ask.order.making, orderedBy: ask.payer) }
        if let key, makings.contains(key) { return }
        guard makings.count < Self.boardsAtOnce else {
            throw Self.boardsBusy("\(Self.boardsAtOnce) leaderboards and reports are being made")
        }
        guard theirs < Self.boardsPerSender else {
            throw Self.boardsBusy("\(Self.boardsPerSender) leaderboards or reports are being made for you")
        }
    }

    /// A busy reply: nothing was done, and the request may be sent again after `boardsRetryAfterMs`.
    private static func boardsBusy(_ reason: String) -> ProtocolError {
        ProtocolError(
            .unavailable, "busy: \(reason); retry in \(boardsRetryAfterMs) ms", retryAfterMs: boardsRetryAfterMs)
    }

    static let boardsRetryAfterMs = 250

    /// Orders the boards this pass was asked for, now that what it wrote is committed: a request for a board being
    /// made waits for it, unless something was forgotten since it was ordered (then for the next making).
    func orderBoards() {
        guard !boardsAsked.isEmpty else { return }
        for ask in boardsAsked {
            guard let key = ask.order.key else {
                reportsMaking[ask.order.ticket] = ask
                boardMaker.order(ask.order)
                continue
            }
            guard var making = boardsMaking[key] else {
                boardsMaking[key] = BoardMaking(
                    waiters: [ask.identity], payer: ask.payer, forgettings: leaderboards.forgettings)
                boardMaker.order(ask.order)
                continue
            }
            if making.forgettings == leaderboards.forgettings, making.next.isEmpty {
                making.waiters.append(ask.identity)
            } else {
                making.next.append(ask)
            }
            boardsMaking[key] = making
        }
        boardsAsked.removeAll(keepingCapacity: true)
    }

    /// Answers who waits for the boards made since the last call, keeps each board beside which nothing was
    /// forgotten, and orders the next making of a board asked for again after a forgetting. The sender whose request
    /// ordered a board pays for its making, as for loop time (unless its bucket was swept meanwhile, full: a quiet
    /// sender's, which then goes unpaid once).
    /// - Parameter stopped: the maker was stopped: a board that failed was (most likely) interrupted, and its askers,
    ///   and those waiting for a next making, are told that the broker is stopping.
    func answerBoards(stopped: Bool = false) {
        let now = WallClock.monotonicNanos()
        for made in boardMaker.takeDone() {
            guard let key = made.key else {
                guard let ask = reportsMaking.removeValue(forKey: made.ticket) else { continue }
                if let failure = made.failure, !stopped { logger.error("report not made", ["error": failure]) }
                if let payer = ask.payer { admission.charge(payer, loopNanos: made.cost) }
                let body = made.failure != nil && stopped ? Self.stoppingBody : made.reply
                deliver([ask.identity] + MDP.clientReply(service: ask.service, body: body), on: router)
                continue
            }
            guard let making = boardsMaking.removeValue(forKey: key) else { continue }
            var reply = made.reply
            if let failure = made.failure {
                if stopped {
                    reply = Self.stoppingBody
                } else {
                    logger.error("leaderboard not made", ["challenge": key.challenge, "error": failure])
                }
            } else if making.forgettings == leaderboards.forgettings {
                leaderboards.keep(key, reply, madeAt: made.began, cost: made.cost, now: now)
            }
            if let payer = making.payer { admission.charge(payer, loopNanos: made.cost) }
            let message = MDP.clientReply(service: Service.leaderboard, body: reply)
            for identity in making.waiters { deliver([identity] + message, on: router) }
            guard let first = making.next.first else { continue }
            if stopped {
                let stopping = MDP.clientReply(service: Service.leaderboard, body: Self.stoppingBody)
                for ask in making.next { deliver([ask.identity] + stopping, on: router) }
            } else {
                boardsMaking[key] = BoardMaking(
                    waiters: making.next.map(\.identity), payer: first.payer, forgettings: leaderboards.forgettings)
                boardMaker.order(first.order)
            }
        }
    }

    static let stoppingError = ProtocolError(.unavailable, "the broker is shutting down")
    private static let stoppingBody = [Wire.encode(Reply<Empty>.failure(stoppingError))]

    /// At the end: the boards already made are given, the maker stops (interrupting the board it makes), and whoever
    /// still waits is told that the broker is stopping.
    /// - Returns: how many were waiting when the stop came (answered with a board or with the stop).
    @discardableResult
    func stopMakingBoards() -> Int {
        let waiting = boardsMaking.values.reduce(reportsMaking.count) { $0 + $1.waiters.count + $1.next.count }
        answerBoards()
        boardMaker.stop()
        answerBoards(stopped: true)
        let stopping = MDP.clientReply(service: Service.leaderboard, body: Self.stoppingBody)
        for making in boardsMaking.values {
            for identity in making.waiters + making.next.map(\.identity) {
                _ = try? router.send([identity] + stopping, dontWait: true)
            }
        }
        boardsMaking.removeAll()
        for ask in reportsMaking.values {
            _ = try? router.send(
                [ask.identity] + MDP.clientReply(service: ask.service, body: Self.stoppingBody), dontWait: true)
        }
        reportsMaking.removeAll()
        return waiting
    }
}
