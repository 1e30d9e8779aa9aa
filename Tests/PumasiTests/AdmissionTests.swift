import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker

/// The token bucket's rules (`Admission`), with time given, not waited for.
@Suite("Admission: a token bucket per principal")
struct AdmissionTests {
    let ada = Admission.Key.principal("ada")
    let bob = Admission.Key.principal("bob")

    @Test func aNewSenderMaySendItsBurstAtOnceAndTheNextWaitsForOneToken() {
        var admission = Admission(rate: 10, burst: 5)
        for _ in 0..<5 { #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_000) == nil) }
        // Empty: one token comes back in 1/10 s.
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_000)?.retryAfterMs == 100)
        // A refused request takes nothing: the wait shrinks as time passes.
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_060)?.retryAfterMs == 40)
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_100) == nil)
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_100)?.retryAfterMs == 100)
    }

    /// A request is charged for the loop time it took beyond the free millisecond, a token per 2 ms, into debt down
    /// to the burst; its sender waits the debt out. Found from outside: a seeker asking for the report of a challenge
    /// of 60,000 submissions ten times a second (2.5 tokens a second) took the others' receipts from a p99 of 4.6 ms
    /// to 11.9 s.
    @Test func aRequestThatHoldsTheLoopLongPaysForItsTime() {
        var admission = Admission(rate: 50, burst: 500)
        #expect(admission.admit(ada, role: .seeker, cost: 0.25, now: 0) == nil)
        // Under the free millisecond: nothing more.
        admission.charge(ada, loopNanos: 900_000)
        #expect(admission.buckets[ada]?.tokens == 499.75)
        // 601 ms of loop: 300 tokens more.
        admission.charge(ada, loopNanos: 601_000_000)
        #expect(admission.buckets[ada]?.tokens == 199.75)
        // One more such report: into debt, and the next request waits it out at 50 a second.
        #expect(admission.admit(ada, role: .seeker, cost: 0.25, now: 0) == nil)
        admission.charge(ada, loopNanos: 601_000_000)
        #expect(admission.buckets[ada]?.tokens == -100.5)
        #expect(admission.admit(ada, role: .seeker, cost: 0.25, now: 0)?.retryAfterMs == 2_015)
        #expect(admission.admit(ada, role: .seeker, cost: 0.25, now: 2_015) == nil)
        // Never deeper than the burst.
        admission.charge(ada, loopNanos: 10_000_000_000)
        #expect(admission.buckets[ada]?.tokens == -500)
        // Others are not charged for it; a sender without a bucket (not metered, or off) is not charged.
        #expect(admission.admit(bob, role: .solver, cost: 1, now: 0) == nil)
        admission.charge(Admission.Key.principal("eve"), loopNanos: 601_000_000)
        #expect(admission.buckets[Admission.Key.principal("eve")] == nil)
        var off = Admission(rate: 0, burst: 500)
        off.charge(ada, loopNanos: 601_000_000)
        #expect(off.buckets.isEmpty)
    }

    @Test func tokensComeBackAtTheRateAndNeverPastTheBurst() {
        var admission = Admission(rate: 4, burst: 3)
        for _ in 0..<3 { #expect(admission.admit(ada, role: .solver, cost: 1, now: 0) == nil) }
        // 1.5 s at 4 a second is 6 tokens, capped at 3.
        for _ in 0..<3 { #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_500) == nil) }
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_500)?.retryAfterMs == 250)
        // Half a token after 125 ms: a request costing a quarter goes, a whole one waits for the rest.
        #expect(admission.admit(ada, role: .solver, cost: 0.25, now: 1_625) == nil)
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 1_625)?.retryAfterMs == 188)
    }

    @Test(arguments: [
        (Service.submit, 1.0), (Service.uploadBegin, 1.0), (Service.post, 1.0), (Service.status, 0.25),
        (Service.leaderboard, 0.25), (Service.uploadChunk, 0.25), (Service.events, 0.25),
    ])
    func writesCostOneTokenAndReadsAQuarter(service: String, cost: Double) {
        #expect(Admission(rate: 1, burst: 1).cost(service: service) == cost)
    }

    @Test func oneSendersEmptyBucketRefusesNobodyElse() {
        var admission = Admission(rate: 1, burst: 2)
        for _ in 0..<2 { #expect(admission.admit(ada, role: .solver, cost: 1, now: 0) == nil) }
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 0) != nil)
        #expect(admission.admit(bob, role: .solver, cost: 1, now: 0) == nil)
        #expect(admission.admit(.connection(Data([1, 2])), role: nil, cost: 1, now: 0) == nil)
    }

    @Test func anAdminGetsTenTimesTheBucketAndEvaluatorsAreNotMetered() {
        var admission = Admission(rate: 2, burst: 2)
        let root = Admission.Key.principal("root")
        for _ in 0..<20 { #expect(admission.admit(root, role: .admin, cost: 1, now: 0) == nil) }
        // 20 tokens a second: one in 50 ms.
        #expect(admission.admit(root, role: .admin, cost: 1, now: 0)?.retryAfterMs == 50)
        let eve = Admission.Key.principal("eve")
        for _ in 0..<1_000 { #expect(admission.admit(eve, role: .evaluator, cost: 1, now: 0) == nil) }
        #expect(admission.buckets[eve] == nil)
    }

    @Test func aRefusalIsLoggedOncePerIntervalWithTheRefusalsBetweenCounted() {
        var admission = Admission(rate: 1, burst: 1)
        admission.logInterval = 10_000
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 0) == nil)
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 0)?.log == 1)
        for at in [1, 2, 3] as [Millis] { #expect(admission.admit(ada, role: .solver, cost: 5, now: at)?.log == nil) }
        #expect(admission.admit(ada, role: .solver, cost: 5, now: 10_000)?.log == 4)
    }

    @Test func theWaitIsAtLeastOneMillisecond() {
        var admission = Admission(rate: 1_000_000, burst: 1)
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 0) == nil)
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 0)?.retryAfterMs == 1)
    }

    @Test func aSweepForgetsTheBucketsThatAreFullAgainAndKeepsTheOthers() {
        var admission = Admission(rate: 1, burst: 10)
        admission.sweepInterval = 1_000
        #expect(admission.admit(ada, role: .solver, cost: 1, now: 0) == nil)
        for _ in 0..<10 { _ = admission.admit(bob, role: .solver, cost: 1, now: 0) }
        #expect(admission.buckets.count == 2)
        // After 5 s ada's bucket is full again, bob's holds 5 of 10.
        admission.sweep(now: 5_000)
        #expect(Set(admission.buckets.keys) == [bob])
        // Coming back, ada starts full: as she would have been.
        for _ in 0..<10 { #expect(admission.admit(ada, role: .solver, cost: 1, now: 5_000) == nil) }
        // The sweep also runs by itself as requests come in, once an interval.
        _ = admission.admit(.principal("cy"), role: .solver, cost: 1, now: 60_000)
        #expect(admission.buckets.keys.contains(.principal("cy")))
        #expect(!admission.buckets.keys.contains(ada) && !admission.buckets.keys.contains(bob))
    }

    @Test func aRateOfZeroTurnsAdmissionOff() {
        var admission = Admission(rate: 0, burst: 10)
        #expect(!admission.isOn)
        for _ in 0..<100 { #expect(admission.admit(ada, role: .solver, cost: 1, now: 0) == nil) }
        #expect(admission.buckets.isEmpty)
    }

    @Test func aBusyReplyCarriesItsRetryAfterAndOlderRepliesReadAsBefore() throws {
        let busy = ProtocolError(.unavailable, "busy: retry in 40 ms", retryAfterMs: 40)
        let encoded = Wire.encode(Reply<Empty>.failure(busy))
        #expect(String(decoding: encoded, as: UTF8.self).contains(#""retryAfterMs":40"#))
        #expect(try JSONDecoder().decode(Reply<Empty>.self, from: encoded).error?.isBusy == true)
        // Any other error says nothing of it, so a client that does not know the field sees what it always saw.
        let draining = Wire.encode(Reply<Empty>.failure(ProtocolError(.unavailable, "the broker is shutting down")))
        #expect(!String(decoding: draining, as: UTF8.self).contains("retryAfterMs"))
        #expect(try JSONDecoder().decode(Reply<Empty>.self, from: draining).error?.isBusy == false)
    }

    @Test func jitterStaysWithinItsBounds() {
        for _ in 0..<1_000 {
            #expect((50...150).contains(Jitter.spread(100)))
            #expect((101...125).contains(Jitter.after(100)))
        }
        #expect(Jitter.after(0) == 1)
        #expect(Jitter.spread(0) == 0)
    }
}
