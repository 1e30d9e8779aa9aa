import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// An MDP worker the test drives by hand: it takes REQUESTs and answers them with whatever the test says.
private final class HandWorker {
    let context: ZMQContext
    let socket: ZMQSocket

    init(broker: String, service: String) throws {
        context = try ZMQContext()
        socket = try ZMQSocket(context, .dealer)
        try socket.connect(broker)
        try socket.send(MDP.worker(.ready, [Data(service.utf8)]))
    }

    /// The next REQUEST's address and body within `seconds`, or nil; heartbeats go back meanwhile.
    func nextRequest(seconds: Double) throws -> (address: Data, body: [Data])? {
        let deadline = WallClock.monotonicNanos() + UInt64(seconds * 1e9)
        while WallClock.monotonicNanos() < deadline {
            if let message = try socket.receive(dontWait: true) {
                let frames = message.frames
                if frames.count > 3, frames[2] == Data([MDP.WorkerCommand.request.rawValue]) {
                    return (frames[3], Array(frames[5...]))
                }
                continue
            }
            try socket.send(MDP.worker(.heartbeat))
            usleep(20_000)
        }
        return nil
    }

    func reply(_ address: Data, _ result: ScoringResult) throws {
        try socket.send(MDP.workerReply(clientAddress: address, body: [result.json]))
    }
}

/// Failing tests that demonstrate what the review found (see each test's comment).
@Suite("Review findings", .timeLimit(.minutes(2)))
struct ReviewFindingsTests {
    typealias Setup = ChallengeRulesTests.Setup

    /// Redundancy: one replica's infrastructure failure at the last attempt ends the whole submission as failed
    /// (its outcome is recorded and its pending work ends), but the other replica still out is not withdrawn.
    /// Its result then finds no ReplicaState (cleared by `conclude`), so `recordReplica` issues replica 0 again;
    /// when that agrees with it, `conclude` runs a second time: a second outcome for the same submission and
    /// version violates the primary key, the evaluator's message fails, and the broker stops
    /// (`BrokerFault.storeWriteFailed`). Broker+Evaluators.swift `record`/`recordReplica`, and `dispatch`.
    @Test func aLateReplicaAfterTheSubmissionEndedIsNotScoredAgainNorRecordedTwice() throws {
        let setup = try Setup { $0.maxAttempts = 1 }
        defer { setup.stop() }
        var spec = setup.spec()
        spec.scorer = ScorerSpec(plugin: "manual")
        spec.redundancy = RedundancySpec(replicas: 2, maxReplicas: 3)
        let challenge = try setup.post(spec)
        let one = try HandWorker(broker: setup.broker.router, service: Service.plugin("manual"))
        let two = try HandWorker(broker: setup.broker.router, service: Service.plugin("manual"))
        let client = try setup.client()
        let receipt = try submit(client, challenge.id, "ada", "{}")
        let first = try #require(try one.nextRequest(seconds: 5))
        let second = try #require(try two.nextRequest(seconds: 5))

        // The first replica's evaluator reports its own trouble: with one attempt allowed, the submission ends
        // as an infrastructure failure.
        try one.reply(
            first.address, ScoringResult(ok: false, error: .init(code: "evaluator_error", message: "disk full")))
        #expect(eventually { (try? status(client, receipt.submission).state) == .failed })
        // The second replica's result arrives after that.
        try two.reply(second.address, ScoringResult(ok: true, score: 0.5))

        // Nothing more should be asked for this submission...
        var again: (address: Data, body: [Data])?
        var who: HandWorker?
        for worker in [one, two] {
            if let request = try worker.nextRequest(seconds: 1) {
                again = request
                who = worker
                break
            }
        }
        #expect(again == nil, "a replica of a submission that already has its outcome was issued again")
        if let again, let who { try who.reply(again.address, ScoringResult(ok: true, score: 0.5)) }
        usleep(300_000)
        // ...and the broker must still be up, with one outcome for the submission.
        let after = try? PumasiTests.client(setup.broker, timeout: 3).call(
            Service.status, SubmissionRequest(submission: receipt.submission), as: SubmissionInfo.self
        ).0
        #expect(after?.state == .failed, "the broker no longer answers: \(String(describing: after))")
        let store = try TestBackend.store(setup.dir.file("broker"))
        let outcomes = try store.db.queryOne(
            "SELECT COUNT(*) FROM outcomes WHERE submission_id = ?", [.text(receipt.submission)])?.int(0)
        #expect(outcomes == 1)
    }

    /// A cancelled challenge's queued jobs are still leased to evaluators and scored: `dispatch` looks the
    /// challenge up with `liveChallenge`, which falls back to the store and returns it whatever its state.
    /// Broker+Evaluators.swift `dispatch`.
    @Test func aCancelledChallengesQueuedJobsAreNotSentToEvaluators() throws {
        let setup = try Setup()
        defer { setup.stop() }
        var spec = setup.spec()
        spec.scorer = ScorerSpec(plugin: "manual")
        let challenge = try setup.post(spec)
        let client = try setup.client()
        let receipt = try submit(client, challenge.id, "ada", "{}")
        _ = try client.call(
            Service.cancel, CancelRequest(challenge: challenge.id, reason: "the data leaked"), as: ChallengeInfo.self)
        let worker = try HandWorker(broker: setup.broker.router, service: Service.plugin("manual"))
        let request = try worker.nextRequest(seconds: 1.5)
        #expect(request == nil, "the cancelled challenge's job was sent to an evaluator")
        if let request { try worker.reply(request.address, ScoringResult(ok: true, score: 0.5)) }
        usleep(300_000)
        #expect(try setup.events(of: challenge.id).last?.topic == .cancelled)
        _ = receipt
    }

    /// A judged-alone challenge that is rescored (a new version of its `judge` scorer) never settles: each
    /// submission is pending again under the new version, but one already judged never awaits judging again
    /// (`judged` is per submission, not per version), so it never gets an outcome under the new version.
    /// Broker+Rules.swift `rescore`, Store+Judging.swift `awaitingJudging`.
    @Test func aRescoredJudgedChallengeStillSettles() throws {
        let setup = try Setup()
        defer { setup.stop() }
        var spec = JudgingTests.judgedSpec(JudgingSpec(perSubmission: 1))
        spec.deadline = WallClock.now() + 3_600_000
        let challenge = try setup.post(spec)
        let client = try setup.client()
        let receipt = try JudgingTests.submitFile(client, challenge.id, "essay.md", "# Pumps")
        let next = try JudgingTests.next(client, judge: "judy")
        let assignment = try #require(next.reply.assignment)
        _ = try JudgingTests.score(client, assignment.assignment, 7, judge: "judy")
        #expect(try settled(client, receipt.submission).state == .scored)
        // Judges' scores are not rescored: a rescore to judges is refused.
        let refused = refusal {
            _ = try client.call(
                Service.rescore,
                RescoreRequest(challenge: challenge.id, scorer: ScorerSpec(judge: true), reason: "again"),
                as: ChallengeInfo.self)
        }
        #expect(refused?.code == .badRequest, "\(String(describing: refused))")
        try setup.close(challenge.id)
        let info = try setup.settledChallenge(challenge.id)
        #expect(info.state.isFinal, "still \(info.state) after the close: its pending work never ends")
    }

    /// After a rescore, a solver's status lists the earlier versions' scores (`history`) with their metrics,
    /// private split included, while the challenge is open: `redactPrivateSplit` strips only the current
    /// version's metrics. Broker+Rules.swift `redactPrivateSplit`, Store+Submissions.swift `submissionInfo`.
    @Test func aRescoredSubmissionsHistoryHidesThePrivateSplitFromItsSolver() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        let echo = try setup.dir.write("echo.sh", "#!/bin/sh\ncat \"$1\"\n", executable: true)
        let double = try setup.dir.write("double.py", ChallengeRulesTests.Setup.doubling, executable: true)
        let evaluator = try setup.evaluator(plugins: ["echo": echo, "double": double])
        defer { evaluator.shutdown() }
        let (spec, files) = sampleSpec(scorer: ScorerSpec(plugin: "echo"))
        let acme = try setup.client("acme")
        let challenge = try post(acme, spec, files)
        let ada = try setup.client("ada")
        let body = ChallengeRulesTests.Setup.body(0.5, ["public.score": 0.5, "private.score": 0.9])
        let receipt = try submit(ada, challenge.id, "ada", String(decoding: body, as: UTF8.self))
        #expect(try settled(ada, receipt.submission).state == .scored)
        _ = try acme.call(
            Service.rescore, RescoreRequest(challenge: challenge.id, scorer: ScorerSpec(plugin: "double")),
            as: ChallengeInfo.self)
        var info = try status(ada, receipt.submission)
        #expect(
            eventually {
                info = (try? status(ada, receipt.submission)) ?? info; return info.history?.count == 2
            })
        #expect(info.metrics?.keys.contains { $0.hasPrefix("private.") } == false)
        for record in info.history ?? [] {
            #expect(
                record.metrics?.keys.contains { $0.hasPrefix("private.") } != true,
                "version \(record.version) shows the solver the private split: \(String(describing: record.metrics))")
        }
    }

    /// A draft is invisible to everyone but its seeker and admins, yet cancelling or rescoring it announces it
    /// on the public event log (title, id, reason), and its public files are served to anyone who names it.
    /// Awards/Broker+Lifecycle.swift `cancelChallenge`, Broker+Rules.swift `rescore`, Broker+Clients.swift
    /// `publicFile`.
    @Test func aDraftStaysInvisibleWhenItIsRescoredOrCancelled() throws {
        let setup = try SecureSetup()
        defer { setup.stop() }
        var (spec, files) = sampleSpec(title: "Secret project")
        spec.startsAt = WallClock.now() + 3_600_000
        spec.deadline = WallClock.now() + 7_200_000
        let acme = try setup.client("acme")
        let draft = try post(acme, spec, files)
        #expect(draft.state == .draft)
        let bob = try setup.client("bob")
        let file = refusal {
            _ = try bob.call(Service.file, FileRequest(challenge: draft.id, name: "question.txt"), as: FileInfo.self)
        }
        #expect(file?.code == .notFound, "a solver read a draft's public file")
        _ = try acme.call(
            Service.rescore, RescoreRequest(challenge: draft.id, scorer: ScorerSpec(builtin: "exact")),
            as: ChallengeInfo.self)
        _ = try acme.call(Service.cancel, CancelRequest(challenge: draft.id, reason: "not yet"), as: ChallengeInfo.self)
        let seen = try bob.call(Service.events, EventsRequest(after: 0), as: EventLog.self).0.events
        #expect(
            !seen.contains { $0.challenge == draft.id },
            "a solver sees the draft on the event log: \(seen.filter { $0.challenge == draft.id }.map(\.topic))")
    }
}
