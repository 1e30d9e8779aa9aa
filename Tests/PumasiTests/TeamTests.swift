import Foundation
import PumasiShared
import Testing

@testable import PumasiBroker
@testable import PumasiWorker

/// Teams over real CURVE sockets (issue 12): limits shared by a team that switching members cannot dodge, a member
/// who leaves taking nothing of the team's, merges refused after the merge deadline, and awards split among
/// members to the cent, with the ledger adding up.
@Suite("Teams over CURVE", .timeLimit(.minutes(2)))
struct TeamTests {
    static func setup() throws -> SecureSetup {
        try SecureSetup(extra: [("cy", .solver, nil), ("dee", .solver, nil)])
    }

    static func teamSpec(rules: SubmissionRules? = nil, teams: TeamRules = TeamRules(maxSize: 3), amount: Decimal = 100)
        -> (ChallengeSpec, [Data])
    {
        var (spec, files) = sampleSpec()
        spec.rules = rules
        spec.teams = teams
        spec.award = AwardSpec(amount: amount, currency: "USD")
        return (spec, files)
    }

    @discardableResult
    static func team(
        _ client: BrokerClient, _ challenge: String, _ action: TeamRequest.Action, name: String? = nil,
        invitee: String? = nil, shares: [String: Decimal]? = nil
    ) throws -> TeamList {
        try client.call(
            Service.team,
            TeamRequest(challenge: challenge, action: action, name: name, invitee: invitee, shares: shares),
            as: TeamList.self
        ).0
    }

    @Test func aTeamSharesItsLimitsAndSwitchingMembersDoesNotDodgeThem() throws {
        let setup = try Self.setup()
        defer { setup.stop() }
        let (spec, files) = Self.teamSpec(rules: SubmissionRules(perDay: 2))
        let challenge = try post(try setup.client("acme"), spec, files).id
        let (ada, bob, cy) = (try setup.client("ada"), try setup.client("bob"), try setup.client("cy"))

        _ = try submit(bob, challenge, "bob", "40")
        let created = try Self.team(ada, challenge, .create, name: "owls")
        #expect(created.teams.map(\.name) == ["owls"] && created.teams[0].members.map(\.name) == ["ada"])
        _ = try submit(ada, challenge, "ada", "41")
        _ = try submit(ada, challenge, "ada", "42")

        // bob brings a submission of today: with the team's two, three is over the two a day.
        try Self.team(ada, challenge, .invite, invitee: "bob")
        let over = refusal { try Self.team(bob, challenge, .join, name: "owls") }
        #expect(over?.code == .limitReached, "\(String(describing: over))")
        #expect(over?.message == "together with owls that would be 3 submissions today, over the limit of 2 a day")

        // cy brings none and joins, but the team's limit is hers now.
        try Self.team(ada, challenge, .invite, invitee: "cy")
        #expect(try Self.team(cy, challenge, .join, name: "owls").teams[0].members.map(\.name) == ["ada", "cy"])
        #expect(refusal { _ = try submit(cy, challenge, "cy", "43") }?.code == .limitReached)
        let quota = try cy.call(Service.quota, QuotaRequest(challenge: challenge), as: Quota.self).0
        #expect(quota.usedToday == 2 && quota.perDay == 2)

        // Leaving and coming back does not reset it: cy's submission alone travels with her, and does not fit.
        _ = try Self.team(cy, challenge, .leave)
        _ = try submit(cy, challenge, "cy", "44")
        try Self.team(ada, challenge, .invite, invitee: "cy")
        #expect(refusal { try Self.team(cy, challenge, .join, name: "owls") }?.code == .limitReached)
        // Nor may a solver be in two teams, or join a team that did not invite them.
        #expect(refusal { try Self.team(ada, challenge, .create, name: "bats") }?.code == .conflict)
        #expect(refusal { try Self.team(try setup.client("dee"), challenge, .join, name: "owls") }?.code == .forbidden)

        let trail = try TestBackend.store(setup.dir.file("broker")).auditTrail().filter { $0.action.hasPrefix("team.") }
        #expect(
            trail.map { "\($0.principal ?? "-") \($0.action)" } == [
                "ada team.create", "ada team.invite", "ada team.invite", "cy team.join", "cy team.leave",
                "ada team.invite",
            ])
    }

    @Test func aMemberWhoLeavesTakesNothingAndAnAwardSplitsToTheCent() throws {
        let setup = try Self.setup()
        defer { setup.stop() }
        let evaluator = try setup.evaluator()
        defer { evaluator.shutdown() }
        let acme = try setup.client("acme")
        let root = try setup.client("root")
        let (ada, bob, _, dee) = (
            try setup.client("ada"), try setup.client("bob"), try setup.client("cy"), try setup.client("dee")
        )

        // Three members share 100 USD equally: 33.34, 33.33 and 33.33, not a cent more or less.
        let (spec, files) = Self.teamSpec()
        let first = try post(acme, spec, files).id
        try Self.team(ada, first, .create, name: "owls")
        for member in ["bob", "cy"] {
            try Self.team(ada, first, .invite, invitee: member)
            try Self.team(try setup.client(member), first, .join, name: "owls")
        }
        let winning = try submit(bob, first, "bob", "42")
        #expect(try settled(bob, winning.submission).score == 1)
        #expect(try status(bob, winning.submission).phase == 1)
        _ = try settled(dee, try submit(dee, first, "dee", "41").submission)
        let board = try ada.call(Service.leaderboard, LeaderboardRequest(challenge: first), as: Leaderboard.self).0
        #expect(
            board.entries.map { "\($0.solver) \($0.members ?? [])" } == ["owls [\"ada\", \"bob\", \"cy\"]", "dee []"])
        _ = try root.call(Service.close, ChallengeRequest(challenge: first), as: ChallengeInfo.self)
        let store = try TestBackend.store(setup.dir.file("broker"))
        #expect(eventually { ((try? store.awards(challenge: first)) ?? []).count == 3 })
        let awards = try store.awards(challenge: first)
        #expect(
            awards.map { "\($0.solver) \($0.amount) \($0.team ?? "-")" } == [
                "ada 33.34 owls", "bob 33.33 owls", "cy 33.33 owls",
            ])
        let entries = try Ledger.entries(store.db, challenge: first)
        #expect(entries.reduce(Decimal(0)) { $0 + (Decimal(string: $1.amount) ?? 0) } == 100)
        #expect(entries.allSatisfy { $0.isSealed && $0.text.contains(#""team":"owls""#) })
        #expect(entries.allSatisfy { $0.submission == winning.submission })

        // ada submits the winner for her team, then leaves: it stays the team's, and so does the award.
        let (second, secondFiles) = Self.teamSpec()
        let later = try post(acme, second, secondFiles).id
        try Self.team(ada, later, .create, name: "bats")
        try Self.team(ada, later, .invite, invitee: "bob")
        try Self.team(bob, later, .join, name: "bats")
        let adas = try submit(ada, later, "ada", "42")
        _ = try settled(ada, adas.submission)
        let left = try Self.team(ada, later, .leave)
        #expect(left.teams[0].members.map(\.name) == ["bob"] && left.teams[0].submissions == 1)
        let after = try ada.call(Service.leaderboard, LeaderboardRequest(challenge: later), as: Leaderboard.self).0
        #expect(
            after.entries.map { "\($0.solver) \($0.submission) \($0.members ?? [])" } == [
                "bats \(adas.submission) [\"bob\"]"
            ])
        // The last member of a team with submissions stays with them.
        #expect(refusal { try Self.team(bob, later, .leave) }?.code == .conflict)
        _ = try root.call(Service.close, ChallengeRequest(challenge: later), as: ChallengeInfo.self)
        #expect(eventually { ((try? store.awards(challenge: later)) ?? []).count == 1 })
        #expect(try store.awards(challenge: later).map { "\($0.solver) \($0.amount)" } == ["bob 100"])
        #expect(try store.verifyLedger().intact)
    }

    @Test func teamsMergeUntilTheMergeDeadlineAndNotAfter() throws {
        let setup = try Self.setup()
        defer { setup.stop() }
        let (spec, files) = Self.teamSpec(teams: TeamRules(maxSize: 4, mergeDeadline: WallClock.now() + 2_000))
        let challenge = try post(try setup.client("acme"), spec, files).id
        let (ada, bob, cy) = (try setup.client("ada"), try setup.client("bob"), try setup.client("cy"))
        try Self.team(ada, challenge, .create, name: "owls")
        try Self.team(cy, challenge, .create, name: "cats")
        try Self.team(bob, challenge, .create, name: "bats")
        let cys = try submit(cy, challenge, "cy", "42")

        // A team invited as a whole merges in: its members and its submissions.
        #expect(refusal { try Self.team(cy, challenge, .join, name: "owls") }?.code == .forbidden)
        try Self.team(ada, challenge, .invite, invitee: "team:cats")
        let merged = try Self.team(cy, challenge, .join, name: "owls")
        #expect(merged.teams[0].members.map(\.name) == ["ada", "cy"] && merged.teams[0].submissions == 1)
        let cats = try Self.team(try setup.client("acme"), challenge, .show, name: "cats").teams[0]
        #expect(cats.members.isEmpty && cats.mergedInto != nil)
        let board = try ada.call(Service.leaderboard, LeaderboardRequest(challenge: challenge), as: Leaderboard.self).0
        #expect(board.entries.map { "\($0.solver) \($0.submission)" } == ["owls \(cys.submission)"])

        // After the merge deadline, membership is frozen.
        // An invited team is listed by its name.
        #expect(try Self.team(ada, challenge, .invite, invitee: "team:bats").teams[0].invited == ["team:bats"])
        _ = eventually(seconds: 5) { WallClock.now() > spec.teams!.mergeDeadline! + 50 }
        let frozen = refusal { try Self.team(bob, challenge, .join, name: "owls") }
        #expect(frozen?.code == .closed && frozen?.message.contains("frozen") == true, "\(String(describing: frozen))")
        #expect(refusal { try Self.team(ada, challenge, .leave) }?.code == .closed)
        #expect(refusal { try Self.team(try setup.client("dee"), challenge, .create, name: "late") }?.code == .closed)
    }

    @Test func anAwardSplitsExactlyWhateverTheShares() {
        let cases: [(Decimal, [(String, Decimal)])] = [
            (100, [("a", 100 / 3), ("b", 100 / 3), ("c", 100 / 3)]),
            (Decimal(string: "0.05")!, [("a", 50), ("b", 50)]),
            (Decimal(string: "1000.0001")!, [("a", 70), ("b", 30)]),
            (7, [("a", 1), ("b", 1), ("c", 98)]),
            (Decimal(string: "10000")!, [("x", 33), ("y", 33), ("z", 34)]),
        ]
        for (amount, shares) in cases {
            let parts = Broker.split(amount, by: shares)
            #expect(parts.reduce(Decimal(0)) { $0 + $1.1 } == amount, "\(amount) \(parts)")
            #expect(parts.allSatisfy { $0.1 >= 0 })
            #expect(parts.map(\.0) == shares.map(\.0))
        }
        #expect(
            Broker.split(100, by: [("a", 100 / 3), ("b", 100 / 3), ("c", 100 / 3)]).map(\.1) == [
                Decimal(string: "33.34")!, Decimal(string: "33.33")!, Decimal(string: "33.33")!,
            ])
    }
}
