import Foundation
import PumasiShared

/// A leaderboard request that waits for its board, asked in the pass under way.
struct BoardAsk {
    var order: BoardMaker.Order
    var identity: Data
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
}

/// `pumasi.leaderboard` off the loop: a board kept young enough is given at once (`LeaderboardCache`); any other is
/// made by the `BoardMaker` after the pass commits, and each request for it, the same (challenge, phase, view,
/// limit), waits for that one making.
extension Broker {
    /// Boards being made or asked for at once, beyond which a request for another is answered busy.
    static let boardsAtOnce = 16

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
        if boardsMaking[key] == nil, !boardsAsked.contains(where: { $0.order.key == key }) {
            let asked = Set(boardsAsked.map(\.order.key)).count
            guard boardsMaking.count + asked < Self.boardsAtOnce else {
                throw ProtocolError(
                    .unavailable,
                    "busy: \(Self.boardsAtOnce) leaderboards are being made; retry in \(Self.boardsRetryAfterMs) ms",
                    retryAfterMs: Self.boardsRetryAfterMs)
            }
        }
        boardsAsked.append(
            BoardAsk(
                order: BoardMaker.Order(key: key, record: record, view: view, limit: limit, phase: phase),
                identity: identity, payer: admission.isOn ? admissionKey(identity, sender) : nil))
        return nil
    }

    static let boardsRetryAfterMs = 250

    /// Orders the boards this pass was asked for, now that what it wrote is committed: a request for a board being
    /// made waits for it.
    func orderBoards() {
        guard !boardsAsked.isEmpty else { return }
        for ask in boardsAsked {
            if boardsMaking[ask.order.key] != nil {
                boardsMaking[ask.order.key]?.waiters.append(ask.identity)
            } else {
                boardsMaking[ask.order.key] = BoardMaking(
                    waiters: [ask.identity], payer: ask.payer, forgettings: leaderboards.forgettings)
                boardMaker.order(ask.order)
            }
        }
        boardsAsked.removeAll(keepingCapacity: true)
    }

    /// Answers who waits for the boards made since the last call, and keeps each board beside which nothing was
    /// forgotten. The sender whose request ordered a board pays for its making, as it would have for the loop's time.
    /// - Parameter stopped: the maker was stopped: a board that failed was interrupted, and its askers are told so.
    func answerBoards(stopped: Bool = false) {
        let now = WallClock.monotonicNanos()
        for made in boardMaker.takeDone() {
            guard let making = boardsMaking.removeValue(forKey: made.key) else { continue }
            var reply = made.reply
            if let failure = made.failure {
                if stopped {
                    reply = [Wire.encode(Reply<Empty>.failure(Self.stoppingError))]
                } else {
                    logger.error("leaderboard not made", ["challenge": made.key.challenge, "error": failure])
                }
            } else if making.forgettings == leaderboards.forgettings {
                leaderboards.keep(made.key, reply, madeAt: made.began, cost: made.cost, now: now)
            }
            if let payer = making.payer { admission.charge(payer, loopNanos: made.cost) }
            let message = MDP.clientReply(service: Service.leaderboard, body: reply)
            for identity in making.waiters { deliver([identity] + message, on: router) }
        }
    }

    static let stoppingError = ProtocolError(.unavailable, "the broker is shutting down")

    /// At the end: the boards already made are given, the maker stops (interrupting the board it makes), and whoever
    /// still waits is told that the broker is stopping.
    func stopMakingBoards() {
        answerBoards()
        boardMaker.stop()
        answerBoards(stopped: true)
        let stopping = MDP.clientReply(
            service: Service.leaderboard, body: [Wire.encode(Reply<Empty>.failure(Self.stoppingError))])
        for making in boardsMaking.values {
            for identity in making.waiters { _ = try? router.send([identity] + stopping, dontWait: true) }
        }
        boardsMaking.removeAll()
    }
}
