import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// `MessageLimits` decides, frame by frame, before a frame is copied: no sockets needed.
@Suite("Limits of an inbound message")
struct MessageLimitsTests {
    static let limits = MessageLimits(maxMessageBytes: 1 << 20)

    /// Feeds `sizes` (the frames after the envelope) to the limits as the reader would; returns the breach, if any,
    /// and the index of the first frame refused.
    static func read(_ envelope: [Data], _ sizes: [Int]) -> (MessageLimits.Breach, Int)? {
        var kept: [Data] = []
        var bytes = 0
        for (index, frame) in (envelope + sizes.map { Data(count: $0) }).enumerated() {
            if let breach = limits.breach(kept, keptBytes: bytes, next: frame.count) { return (breach, index) }
            kept.append(frame)
            bytes += frame.count
        }
        return nil
    }

    static func client(_ service: String) -> [Data] {
        [Data("peer".utf8), Data(), MDP.clientHeader, Data(service.utf8)]
    }

    @Test func sixtyFourFramesOfJustUnderAMebibyteBreakTheMessageLimitAtTheSecondFrame() throws {
        let (breach, index) = try #require(
            Self.read(Self.client(Service.post), [100] + Array(repeating: (1 << 20) - 16, count: 64)))
        #expect(breach == .message(limit: 1 << 20))
        #expect(index == 5)
    }

    @Test(arguments: [Service.list, Service.show, Service.status, Service.leaderboard, Service.events, "pumasi.nope"])
    func aSmallServiceTakesOneJSONFrameOfAtMost64KiB(service: String) throws {
        #expect(Self.read(Self.client(service), [64 << 10]) == nil)
        let (tooLarge, at) = try #require(Self.read(Self.client(service), [(64 << 10) + 1]))
        #expect(tooLarge == .body(service: service, limit: 64 << 10) && at == 4)
        let (tooMany, index) = try #require(Self.read(Self.client(service), [10, 10]))
        #expect(tooMany == .frames(kind: service, limit: 5) && index == 5)
    }

    @Test func aSubmissionTakesItsJSONAndOneFileUpToTheMessageLimit() throws {
        #expect(Self.read(Self.client(Service.submit), [200, (1 << 20) - 300]) == nil)
        #expect(Self.read(Self.client(Service.submit), [200, 10, 10])?.0 == .frames(kind: Service.submit, limit: 6))
        #expect(Self.read(Self.client(Service.post), [(4 << 20) + 1])?.0 == .message(limit: 1 << 20))
        let large = MessageLimits(maxMessageBytes: 64 << 20)
        #expect(large.breach(Self.client(Service.post), keptBytes: 20, next: 4 << 20) == nil)
        #expect(
            large.breach(Self.client(Service.post), keptBytes: 20, next: (4 << 20) + 1)
                == .body(service: Service.post, limit: 4 << 20))
    }

    @Test func workerMessagesTakeWhatMDPGivesThem() throws {
        let worker = { (command: MDP.WorkerCommand) in
            [Data("peer".utf8), Data(), MDP.workerHeader, Data([command.rawValue])]
        }
        #expect(Self.read(worker(.heartbeat), [1])?.0 == .frames(kind: "a worker HEARTBEAT", limit: 4))
        #expect(Self.read(worker(.ready), [20]) == nil)
        #expect(Self.read(worker(.reply), [40, 0] + Array(repeating: 100, count: ScoringJob.maxBatch)) == nil)
        #expect(
            Self.read(worker(.reply), [40, 0] + Array(repeating: 100, count: ScoringJob.maxBatch + 1))?.0
                == .frames(kind: "a worker REPLY", limit: 6 + ScoringJob.maxBatch))
    }

    @Test func anEnvelopeFrameOver255BytesOrAnUnknownHeaderIsRefused() throws {
        #expect(Self.read([Data("peer".utf8), Data(count: 256)], [])?.0 == .envelope(frame: 1))
        let unknown = [Data("peer".utf8), Data(), Data("HTTP/1.1".utf8), Data("x".utf8)]
        #expect(Self.read(unknown, [1])?.0 == .header("HTTP/1.1"))
        // A client of another MDP version is told which header it sent and which this broker speaks.
        let newer = [Data("peer".utf8), Data(), Data("MDPC02".utf8), Data(Service.list.utf8)]
        let breach = try #require(Self.read(newer, [20])?.0)
        #expect(breach == .header("MDPC02"))
        let refusal = MessageLimits.refusal(breach, ZMQMessage.Cut(frames: 5, bytes: 43))
        #expect(refusal.contains("\"MDPC02\"") && refusal.contains("MDPC01") && refusal.contains("MDPW01"))
    }

    @Test func theRefusalNamesTheLimitAndTheSize() {
        let message = MessageLimits.refusal(.message(limit: 1 << 20), ZMQMessage.Cut(frames: 68, bytes: 67_107_840))
        #expect(message.contains("67107840 bytes in 68 frames") && message.contains("1048576"))
        let body = MessageLimits.refusal(
            .body(service: Service.list, limit: 65_536), ZMQMessage.Cut(frames: 5, bytes: 3_000_100))
        #expect(
            body
                == "pumasi.challenge.list takes a JSON body of at most 65536 bytes; this request carried 3000100 bytes in 5 frames"
        )
    }
}
