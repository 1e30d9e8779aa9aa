import Foundation
import PumasiShared
import Testing

@testable import PumasiWorker

extension CLITests {
    /// The pet-sounds challenge with teams of at most 3, frozen in 30 minutes, and `ada.csv` (0.75), `cy.csv` (0.375).
    func teamSpec(in dir: TempDirectory) throws -> String {
        try dir.write("train.csv", CLIChallengeFiles.publicText)
        try dir.write("truth.csv", CLIChallengeFiles.truth)
        try dir.write("ada.csv", CLIChallengeFiles.good)
        try dir.write("cy.csv", CLIChallengeFiles.worse)
        return try dir.write(
            "teams.json",
            """
            {"title": "Pet sounds in teams", "description": "Which animal makes each sound?", "deadline": "+2h",
             "award": {"amount": 100, "currency": "USD"}, "teams": {"maxSize": 3, "mergeDeadline": "+30m"},
             "scorer": {"builtin": "csv-accuracy", "options": {"id": "id", "target": "label"}},
             "files": [{"path": "train.csv", "role": "public"}, {"path": "truth.csv", "role": "reference"}]}
            """)
    }

    /// Solvers create, invite, join and leave a team with `pumasi team`, set its shares, and see it on the
    /// leaderboard with its members; a join without an invitation is refused with the broker's reason.
    @Test func solversFormATeamThatRanksWithItsMembers() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let keyed = try CLIKeyedBroker(
            in: dir,
            principals: ["acme": "seeker", "ada": "solver", "bob": "solver", "cy": "solver", "eval": "evaluator"])
        defer { keyed.broker.spawned.stopGracefully() }
        let evaluator = try startWorker(
            [
                "evaluate", "--broker", keyed.broker.router, "--broker-key", keyed.brokerKeyFile, "--key",
                dir.file("eval.key"), "--cache", dir.file("cache"),
            ], ready: "evaluator starting")
        defer { evaluator.stopGracefully() }

        let posted = try run("pumasi", ["post", try teamSpec(in: dir)] + keyed.as("acme"))
        let id = try #require(word(after: "Posted ", in: posted.stdout)?.dropLast().description, "\(posted)")
        let info = try decode(ChallengeInfo.self, try run("pumasi", ["show", id, "--json"] + keyed.as("ada")))
        let mergeDeadline = try #require(info.teams?.mergeDeadline, "\(info)")
        #expect(info.teams?.maxSize == 3 && mergeDeadline < info.deadline, "\(info)")
        let teamsLine = "teams     up to 3 members, merge deadline \(WallClock.iso(mergeDeadline))"
        #expect(posted.stdout.hasSuffix("\n  \(teamsLine)\n"), "\(posted)")
        let shown = try run("pumasi", ["show", id] + keyed.as("ada"))
        #expect(
            shown.stdout.contains(
                "\n  teams         up to 3 members, merge deadline \(WallClock.iso(mergeDeadline))\n"),
            "\(shown)")

        func team(_ words: [String], as name: String) throws -> CLIResult {
            try run("pumasi", ["team"] + words + keyed.as(name))
        }
        func owls() throws -> TeamInfo {
            let list = try decode(TeamList.self, try team(["show", id, "owls", "--json"], as: "acme"))
            return try #require(list.teams.first, "\(list)")
        }
        func member(_ owls: TeamInfo, _ name: String, _ share: String) throws -> String {
            let joined = try #require(owls.members.first { $0.name == name }?.joinedAt, "\(name) in \(owls)")
            return "\(name)  joined \(WallClock.iso(joined))  share \(share)"
        }

        let created = try team(["create", id, "owls"], as: "ada")
        var owlsInfo = try owls()
        #expect(
            created.stdout == """
                Created team owls.

                Team owls  [\(owlsInfo.id)]
                  members       \(try member(owlsInfo, "ada", "100%"))
                  submissions   0

                """, "\(created)")
        let invited = try team(["invite", id, "bob"], as: "ada")
        #expect(
            invited.stdout.hasPrefix("Invited bob to owls.\n\n")
                && invited.stdout.hasSuffix("\n  invited       bob\n  submissions   0\n"), "\(invited)")

        let uninvited = try team(["join", id, "owls"], as: "cy")
        #expect(uninvited.termination == .exit(1), "\(uninvited)")
        #expect(uninvited.stdout.isEmpty, "\(uninvited)")
        #expect(uninvited.stderr == "Error: owls has not invited you: ask one of its members to\n", "\(uninvited)")

        let joined = try team(["join", id, "owls"], as: "bob")
        #expect(joined.stdout.hasPrefix("Joined owls.\n\nTeam owls  [\(owlsInfo.id)]\n"), "\(joined)")
        let badShares = try team(["shares", id, "ada=sixty", "bob=40"], as: "ada")
        #expect(badShares.termination == .exit(64), "\(badShares)")
        #expect(
            badShares.stderr.hasPrefix("Error: a share must be MEMBER=PERCENT, such as ada=60, not 'ada=sixty'\n"),
            "\(badShares)")
        let wrongMembers = try team(["shares", id, "ada=100"], as: "ada")
        #expect(wrongMembers.termination == .exit(1), "\(wrongMembers)")
        #expect(wrongMembers.stderr == "Error: shares must name exactly the members of owls: ada, bob\n")

        let shares = try team(["shares", id, "ada=60", "bob=40"], as: "ada")
        #expect(shares.termination == .exit(0), "\(shares)")
        owlsInfo = try owls()
        let twoMembers = """
            Team owls  [\(owlsInfo.id)]
              members       \(try member(owlsInfo, "ada", "60%"))
                            \(try member(owlsInfo, "bob", "40%"))
              submissions   0

            """
        #expect(shares.stdout == "Set the shares of owls.\n\n" + twoMembers, "\(shares)")
        let mine = try team(["show", id], as: "bob")
        #expect(mine.stdout == twoMembers, "\(mine)")
        let none = try team(["show", id], as: "cy")
        #expect(none.stdout == "You are in no team of \(id).\n", "\(none)")

        // ada scores for the team, cy alone; the leaderboard names the team's members.
        let adas = try decode(
            SubmissionInfo.self,
            try run("pumasi", ["submit", id, dir.file("ada.csv"), "--wait", "--json"] + keyed.as("ada")))
        let cys = try decode(
            SubmissionInfo.self,
            try run("pumasi", ["submit", id, dir.file("cy.csv"), "--wait", "--json"] + keyed.as("cy")))
        #expect(adas.state == .scored && cys.state == .scored, "\(adas) \(cys)")
        let board = try run("pumasi", ["leaderboard", id] + keyed.as("cy"))
        let rows = board.stdout.split(separator: "\n").dropFirst().map {
            $0.split(separator: " ").joined(separator: " ")
        }
        #expect(
            rows == [
                "RANK SOLVER SCORE ENTRIES SUBMISSION SUBMITTED MEMBERS",
                "1 owls 0.750000 1 \(adas.submission) \(WallClock.iso(adas.receivedAt)) ada, bob",
                "2 cy 0.375000 1 \(cys.submission) \(WallClock.iso(cys.receivedAt)) -",
            ], "\(board)")

        let left = try team(["leave", id], as: "bob")
        owlsInfo = try owls()
        #expect(
            left.stdout == """
                Left owls; its submissions stay with it.

                Team owls  [\(owlsInfo.id)]
                  members       \(try member(owlsInfo, "ada", "100%"))
                  submissions   1

                """, "\(left)")
        let last = try team(["leave", id], as: "ada")
        #expect(last.termination == .exit(1), "\(last)")
        #expect(
            last.stderr
                == "Error: you are the last member of owls, which has submissions: they stay with it, and so must you\n",
            "\(last)")
    }

    /// A team as people read it: members aligned with their join time and share, invited teams by name when the list
    /// holds them, and what a team merged into.
    @Test func teamListsRenderForPeople() {
        let at: Millis = 1_798_761_600_000  // 2027-01-01T00:00:00Z
        let owls = TeamInfo(
            id: "team_1", challenge: "ch_1", name: "owls",
            members: [.init(name: "ada", joinedAt: at, share: 50), .init(name: "cy", joinedAt: at + 1000, share: 50)],
            invited: ["dee", "team:team_3"], submissions: 2, createdAt: at)
        let bats = TeamInfo(
            id: "team_2", challenge: "ch_1", name: "bats", members: [], invited: [], submissions: 0, createdAt: at,
            mergedInto: "team_1")
        let moths = TeamInfo(
            id: "team_3", challenge: "ch_1", name: "moths",
            members: [.init(name: "eve", joinedAt: at, share: Decimal(100) / 3)], invited: [], submissions: 0,
            createdAt: at)
        #expect(
            TeamCommand.rendered(TeamList(challenge: "ch_1", teams: [owls, bats, moths])) == """
                Team owls  [team_1]
                  members       ada  joined 2027-01-01T00:00:00Z  share 50%
                                cy   joined 2027-01-01T00:00:01Z  share 50%
                  invited       dee, team:moths
                  submissions   2

                Team bats  [team_2]
                  members       none
                  submissions   0
                  merged into   owls

                Team moths  [team_3]
                  members       eve  joined 2027-01-01T00:00:00Z  share 33.33%
                  submissions   0
                """)
        #expect(TeamCommand.rendered(TeamList(challenge: "ch_1", teams: [])) == "No teams in ch_1 yet.")
    }

    @Test(arguments: [
        (["ada=60", "bob=40"], ["ada": Decimal(60), "bob": 40] as [String: Decimal]?),
        (["ada=62.5", "bob=37.5%"], ["ada": Decimal(string: "62.5")!, "bob": Decimal(string: "37.5")!]),
        (["ada"], nil), (["=60"], nil), (["ada=x"], nil), (["ada=-5"], nil), (["ada=1e2"], nil),
        (["ada=50", "ada=50"], nil),
    ])
    func teamSharesAreMemberEqualsPercent(words: [String], shares: [String: Decimal]?) throws {
        if let shares {
            #expect(try TeamSharesCommand.shares(words) == shares, "\(words)")
        } else {
            #expect(throws: UsageError.self, "\(words)") { try TeamSharesCommand.shares(words) }
        }
        let parsed = try TeamSharesCommand.parse(["ch_x", "ada=60", "--solver", "ada", "bob=40"])
        #expect(parsed.all("shares") == ["ada=60", "bob=40"] && parsed.value("solver") == "ada")
        #expect(throws: UsageError.self) { try TeamSharesCommand.parse(["ch_x"]) }
    }

    /// A spec's `teams.mergeDeadline` takes the deadline's forms.
    @Test func aSpecsMergeDeadlineIsATimeLikeTheDeadline() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let spec = """
            {"title": "t", "description": "d", "deadline": "+2h", "award": {"amount": 1, "currency": "USD"},
             "scorer": {"plugin": "echo"}, "teams": {"maxSize": 4, "mergeDeadline": "MERGE"}}
            """
        try dir.write("relative.json", spec.replacingOccurrences(of: "MERGE", with: "+30m"))
        let now: Millis = 1_798_761_600_000
        let relative = try SpecFile.load(dir.file("relative.json"), now: now).spec.teams
        #expect(relative == TeamRules(maxSize: 4, mergeDeadline: now + 1_800_000))
        try dir.write("absolute.json", spec.replacingOccurrences(of: "MERGE", with: "2027-01-01T00:30:00Z"))
        #expect(try SpecFile.load(dir.file("absolute.json")).spec.teams?.mergeDeadline == now + 1_800_000)

        try dir.write("bad.json", spec.replacingOccurrences(of: "MERGE", with: "soon"))
        let result = try pumasi("post", "bad.json", "--broker", "tcp://127.0.0.1:1", "--timeout", "0.5", in: dir.path)
        #expect(result.termination == .exit(1), "\(result)")
        #expect(
            result.stderr
                == "Error: bad.json: teams.mergeDeadline \"soon\" is not ISO 8601 (2026-12-31T00:00:00Z) or relative (+2h)\n",
            "\(result)")
    }

    @Test func theTeamCommandsHaveHelp() throws {
        #expect(try pumasi("--help").stdout.contains("\n  team "), "team missing from pumasi --help")
        let group = try pumasi("help", "team")
        #expect(group.termination == .exit(0) && group.stdout.contains("USAGE: pumasi team <subcommand>\n"), "\(group)")
        for action in ["create", "invite", "join", "leave", "shares", "show"] {
            #expect(group.stdout.contains("\n  \(action) "), "\(action) missing from pumasi help team")
            let help = try pumasi("team", action, "--help")
            #expect(help.stdout.contains("USAGE: pumasi team \(action) [<options>] <challenge>"), "\(help)")
            #expect(help.stdout.contains("--solver <name>"), "\(help)")
        }
        #expect(try pumasi("help", "team", "shares").stdout.contains("<challenge> <shares>\n"))
        let bogus = try pumasi("team", "bogus")
        #expect(bogus.termination == .exit(64) && bogus.stderr.hasPrefix("Error: unknown subcommand 'bogus'"))
    }
}
