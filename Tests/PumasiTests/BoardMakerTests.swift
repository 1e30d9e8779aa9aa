import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// A leaderboard is made off the broker's loop (`BoardMaker`): the loop answers others while it is made, those who
/// ask for the same board share one making, a board begun before a change is not kept, and a broker that stops
/// answers whoever still waits.
@Suite("Leaderboards made off the loop", .timeLimit(.minutes(4)))
struct BoardMakerTests {
    /// Submissions in the filled challenge: its board takes a debug build hundreds of milliseconds to make.
    static let submissions = 20_000

    /// A broker on a store filled with one challenge of `submissions` scored submissions from 2,000 solvers.
    private static func filledBroker(
        _ dir: TempDirectory, configure: (inout BrokerConfig) -> Void = { _ in }
    ) throws -> (broker: BrokerHarness, challenge: String) {
        let directory = dir.file("broker")
        _ = try Store.fill(
            location: TestBackend.location(for: directory), challenges: 1, submissions: submissions, solvers: 2_000,
            pending: 0)
        let challenge = try #require(try TestBackend.store(directory).liveChallenges().first?.id)
        let broker = try BrokerHarness(directory: directory) {
            $0.admitRate = 0
            configure(&$0)
        }
        return (broker, challenge)
    }

    private static func boardRequest(_ challenge: String, limit: Int = 10) -> [Data] {
        MDP.clientRequest(
            service: Service.leaderboard, body: [Wire.encode(LeaderboardRequest(challenge: challenge, limit: limit))])
    }

    private static func board(_ reply: [Data]) throws -> Leaderboard {
        try #require(reply.count >= 4 && reply[2] == Data(Service.leaderboard.utf8), "not a leaderboard reply")
        return try #require(try JSONDecoder().decode(Reply<Leaderboard>.self, from: reply[3]).result)
    }

    /// A board, and a report's first page (which holds the challenge's whole board), are made off the loop.
    @Test func theLoopAnswersOthersWhileABoardOrAReportIsMade() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let (broker, challenge) = try Self.filledBroker(dir)
        defer { broker.shutdown() }
        let context = try ZMQContext()
        let asker = try RawPeer(context, broker.router)
        let other = try RawPeer(context, broker.router)
        // The first board opens the maker's store; the second is the one timed against the others' requests.
        try asker.socket.send(Self.boardRequest(challenge))
        #expect(try Self.board(try #require(try asker.next(seconds: 60), "no board")).entries.count == 10)

        let (boardReply, whileBoard) = try Self.othersAnswered(asker, Self.boardRequest(challenge, limit: 20), other)
        let board = try Self.board(boardReply)
        #expect(board.entries.count == 20 && board.entries.first?.rank == 1)
        #expect(whileBoard >= 5, "the loop answered \(whileBoard) requests while the board was made")

        let request = MDP.clientRequest(
            service: Service.report, body: [Wire.encode(ReportRequest(challenge: challenge))])
        let (reply, whileReport) = try Self.othersAnswered(asker, request, other)
        try #require(reply.count >= 4 && reply[2] == Data(Service.report.utf8), "not a report reply")
        let report = try #require(try JSONDecoder().decode(Reply<ChallengeReport>.self, from: reply[3]).result)
        #expect(report.leaderboard.count == 2_000 && report.submissions.count == ReportSubmissionsRequest.maxLimit)
        #expect(report.moreSubmissions == true && report.challenge.id == challenge)
        #expect(whileReport >= 5, "the loop answered \(whileReport) requests while the report was made")
    }

    /// Sends a leaderboard `request` from `asker`, then `pumasi.whoami`, and waits for the latter's reply: the pass
    /// that read the request has then committed, so its board is ordered (and being made: a board of this store
    /// takes far longer than a whoami).
    private static func ordered(_ request: [Data], by asker: RawPeer) throws {
        try asker.socket.send(request)
        #expect(try asker.request(Service.whoami, [], seconds: 10) == nil)
    }

    /// Sends `request` from `asker`, and `pumasi.whoami` from `other` one after the other until its reply comes.
    /// - Returns: the reply, and how many of the other's requests were answered meanwhile.
    private static func othersAnswered(_ asker: RawPeer, _ request: [Data], _ other: RawPeer) throws -> (
        [Data], Int
    ) {
        try asker.socket.send(request)
        let began = WallClock.monotonicNanos()
        var answered = 0
        var reply: [Data]?
        // Bounded: 5,000 requests, each waited for at most 10 s.
        while reply == nil, answered < 5_000 {
            #expect(try other.request(Service.whoami, [], seconds: 10) == nil)
            answered += 1
            if try asker.poller.poll(timeoutMilliseconds: 0)[0] { reply = try asker.socket.receive()?.frames }
        }
        let waited = Double(WallClock.monotonicNanos() - began) / 1e6
        print("\(submissions) submissions: \(waited) ms for the reply, \(answered) other requests answered meanwhile")
        return (try #require(reply, "no reply after \(answered) other requests"), answered)
    }

    @Test func thoseAskingForTheSameBoardShareOneMaking() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let (broker, challenge) = try Self.filledBroker(dir)
        defer { broker.shutdown() }
        let context = try ZMQContext()
        let peers = try (0..<3).map { _ in try RawPeer(context, broker.router) }
        for peer in peers { try peer.socket.send(Self.boardRequest(challenge)) }
        let replies = try peers.map { try #require(try $0.next(seconds: 60), "no board") }
        // Made once: the same bytes, `asOf` included (boards are not kept in this harness, so a second making would
        // carry its own time, hundreds of ms later).
        #expect(replies.allSatisfy { $0 == replies[0] })
        #expect(try Self.board(replies[0]).asOf != nil)
    }

    @Test func aBoardBegunBeforeADisqualificationIsGivenButNotKept() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let (broker, challenge) = try Self.filledBroker(dir) { $0.leaderboardReuseFactor = 1_000_000_000 }
        defer { broker.shutdown() }
        let context = try ZMQContext()
        let asker = try RawPeer(context, broker.router)
        func ask(limit: Int) throws -> Leaderboard {
            try asker.socket.send(Self.boardRequest(challenge, limit: limit))
            return try Self.board(try #require(try asker.next(seconds: 60), "no board"))
        }
        let first = try ask(limit: 10)
        #expect(try ask(limit: 10) == first, "kept, and given again")
        let top = try #require(first.entries.first)

        // A board of another limit is ordered; the disqualification comes in a later pass, while it is made (a debug
        // build takes about 200 ms for this board).
        let seeker = try client(broker)
        _ = try seeker.call(Service.whoami, Empty(), as: Identity.self)
        try Self.ordered(Self.boardRequest(challenge, limit: 5), by: asker)
        _ = try seeker.call(
            Service.disqualify, DisqualifyRequest(submission: top.submission, reason: "copied"),
            as: SubmissionInfo.self)
        // Asked for once the disqualification is acknowledged, while the board begun before it is still being made.
        let late = try RawPeer(context, broker.router)
        try late.socket.send(Self.boardRequest(challenge, limit: 5))
        let during = try Self.board(try #require(try asker.next(seconds: 60), "no board"))
        #expect(during.entries.contains { $0.submission == top.submission }, "begun before the disqualification")
        let afterwards = try Self.board(try #require(try late.next(seconds: 60), "no board"))
        #expect(afterwards.entries.count == 5)
        #expect(!afterwards.entries.contains { $0.submission == top.submission }, "a making of its own, after it")
        #expect(afterwards.asOf ?? 0 > during.asOf ?? .max)
        #expect(try ask(limit: 5) == afterwards, "the board begun before was not kept; the one after was")
        #expect(try ask(limit: 10).entries.allSatisfy { $0.submission != top.submission }, "kept boards forgotten")
    }

    @Test func moreBoardsThanTheMakerTakesAtOnceAreAnsweredBusy() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let (broker, challenge) = try Self.filledBroker(dir)
        defer { broker.shutdown() }
        let asker = try RawPeer(try ZMQContext(), broker.router)
        let count = Broker.boardsAtOnce + 4
        for limit in 1...count { try asker.socket.send(Self.boardRequest(challenge, limit: limit)) }
        var boards = 0
        var busy: [ProtocolError] = []
        for _ in 1...count {
            let reply = try #require(try asker.next(seconds: 120), "\(boards) boards and \(busy.count) busy replies")
            if let error = try RawPeer.error(reply, service: Service.leaderboard) {
                busy.append(error)
            } else {
                boards += 1
            }
        }
        #expect(boards >= Broker.boardsAtOnce && !busy.isEmpty && boards + busy.count == count)
        #expect(
            busy.allSatisfy {
                $0.isBusy && $0.retryAfterMs == Broker.boardsRetryAfterMs && $0.message.contains("being made")
            }, "\(busy)")
    }

    /// With admission on, the boards one sender's requests order are at most two at a time: it pays for each once it
    /// is made, and could otherwise take all sixteen before paying for any.
    @Test func oneSenderOrdersAtMostTwoBoardsAtATime() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let (broker, challenge) = try Self.filledBroker(dir) { $0.admitRate = 50 }
        defer { broker.shutdown() }
        let context = try ZMQContext()
        let asker = try RawPeer(context, broker.router)
        for limit in 1...3 { try asker.socket.send(Self.boardRequest(challenge, limit: limit)) }
        var errors: [ProtocolError] = []
        for _ in 1...3 {
            let reply = try #require(try asker.next(seconds: 60), "no reply")
            if let error = try RawPeer.error(reply, service: Service.leaderboard) { errors.append(error) }
        }
        #expect(errors.count == 1 && errors.allSatisfy { $0.isBusy && $0.message.contains("being made for you") })
        // Another sender (a connection of its own, without keys) is not held to the first one's two.
        let other = try RawPeer(context, broker.router)
        try other.socket.send(Self.boardRequest(challenge, limit: 4))
        #expect(try Self.board(try #require(try other.next(seconds: 60), "no board")).entries.count == 4)
    }

    @Test func aBrokerStoppingWhileABoardIsMadeAnswersItsAsker() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let (broker, challenge) = try Self.filledBroker(dir)
        let asker = try RawPeer(try ZMQContext(), broker.router)
        try Self.ordered(Self.boardRequest(challenge), by: asker)
        broker.shutdown()
        // The board, if it was done before the stop; else the broker says it is stopping.
        let reply = try #require(try asker.next(seconds: 30), "no answer from a stopping broker")
        if let error = try RawPeer.error(reply, service: Service.leaderboard) {
            #expect(error.code == .unavailable && error.message.contains("shutting down"), "\(error)")
        } else {
            #expect(try Self.board(reply).entries.count == 10)
        }
    }
}
