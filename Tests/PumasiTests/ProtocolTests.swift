import Foundation
import PumasiShared
import Testing

@Suite("MDP codec and wire bodies")
struct ProtocolTests {
    private func frames(_ parts: [Any]) -> ArraySlice<Data> {
        ArraySlice(
            parts.map { part -> Data in
                if let text = part as? String { return Data(text.utf8) }
                if let byte = part as? UInt8 { return Data([byte]) }
                return part as! Data
            })
    }

    @Test func parsesEveryWorkerCommandAndClientRequests() throws {
        #expect(
            try MDP.parse(frames(["", "MDPW01", UInt8(1), "pumasi.builtin"])) == .workerReady(service: "pumasi.builtin")
        )
        #expect(try MDP.parse(frames(["", "MDPW01", UInt8(4)])) == .workerHeartbeat)
        #expect(try MDP.parse(frames(["", "MDPW01", UInt8(5)])) == .workerDisconnect)
        #expect(
            try MDP.parse(frames(["", "MDPW01", UInt8(3), "job:1:1", "", "{}"]))
                == .workerReply(clientAddress: Data("job:1:1".utf8), body: [Data("{}".utf8)]))
        #expect(
            try MDP.parse(frames(["", "MDPC01", "echo", "a", "b"]))
                == .clientRequest(service: "echo", body: [Data("a".utf8), Data("b".utf8)]))
    }

    @Test func buildsWhatItParses() throws {
        let request = MDP.clientRequest(service: "pumasi.submit", body: [Data("{}".utf8), Data([0, 1])])
        #expect(
            try MDP.parse(ArraySlice(request))
                == .clientRequest(service: "pumasi.submit", body: [Data("{}".utf8), Data([0, 1])]))
        let reply = MDP.workerReply(clientAddress: Data("job:9:2".utf8), body: [Data("x".utf8)])
        #expect(
            try MDP.parse(ArraySlice(reply))
                == .workerReply(clientAddress: Data("job:9:2".utf8), body: [Data("x".utf8)]))
    }

    @Test(arguments: [
        ([] as [String], "empty message"),
        (["x"], "first frame must be empty"),
        ([""], "missing protocol header"),
        (["", "MDPC02", "svc"], "unknown protocol header \"MDPC02\""),
        (["", "MDPC01"], "no service frame"),
        (["", "MDPC01", ""], "service name"),
        // Counted in bytes: 128 characters of two bytes each are 256 bytes.
        (["", "MDPC01", String(repeating: "é", count: 128)], "service name must be 1-255 bytes"),
        (["", "MDPC01", String(repeating: "s", count: 256)], "service name must be 1-255 bytes"),
        (["", "MDPW01"], "worker command"),
        (["", "MDPW01", "\u{9}"], "worker command"),
        (["", "MDPW01", "\u{1}"], "READY must carry exactly one service"),
        (["", "MDPW01", "\u{3}", "job"], "REPLY must carry a client address"),
        (["", "MDPW01", "\u{2}", "a", ""], "REQUEST is sent by the broker"),
        (["", "MDPW01", "\u{4}", "extra"], "HEARTBEAT takes no frames"),
    ])
    func rejectsMalformedMessagesWithANamedReason(parts: [String], reason: String) {
        do {
            _ = try MDP.parse(ArraySlice(parts.map { Data($0.utf8) }))
            Issue.record("accepted \(parts)")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }

    @Test func theLongestServiceNameMDPAllowsIsTaken() throws {
        let parts = ["", "MDPC01", String(repeating: "s", count: 255), "{}"].map { Data($0.utf8) }
        #expect(
            try MDP.parse(ArraySlice(parts))
                == .clientRequest(service: String(repeating: "s", count: 255), body: [Data("{}".utf8)]))
    }

    @Test func wireBodiesCheckVersionAndShape() throws {
        let ok = try Wire.decode(SubmissionRequest.self, from: Data(#"{"v":1,"submission":"sub_x"}"#.utf8))
        #expect(ok.submission == "sub_x")
        let cases: [(String, ProtocolError.Code, String)] = [
            ("", .badRequest, "missing JSON body"),
            ("not json", .badRequest, "not valid JSON"),
            ("[1,2]", .badRequest, "must be a JSON object"),
            (#"{"submission":"x"}"#, .badVersion, "no protocol version"),
            (#"{"v":2,"submission":"x"}"#, .badVersion, "version 2 is not supported"),
            (#"{"v":1}"#, .badRequest, "missing field \"submission\""),
            (#"{"v":1,"submission":5}"#, .badRequest, "\"submission\" has the wrong type"),
        ]
        for (text, code, message) in cases {
            let error = try #require(throws: ProtocolError.self) {
                try Wire.decode(SubmissionRequest.self, from: text.isEmpty ? nil : Data(text.utf8))
            }
            #expect(error.code == code, "\(text)")
            #expect(error.message.contains(message), "\(text): \(error.message)")
        }
    }

    @Test func invalidUTF8BodiesAreRefused() {
        #expect(throws: ProtocolError.self) {
            try Wire.decode(SubmissionRequest.self, from: Data([0x7b, 0xff, 0xfe, 0x7d]))
        }
    }

    @Test func jobAddressesRoundTripAndRejectJunk() {
        let job = ScoringJob(
            job: 12, attempt: 3, challenge: "ch_x", submission: "sub_y", filename: "f", sha256: "",
            scorer: ScorerSpec(builtin: "exact"),
            reference: [], timeLimitSeconds: 1)
        #expect(ScoringJob.parseAddress(job.address)!.map { [$0.job, Int64($0.attempt)] } == [[12, 3]])
        let batch = ScoringJob.address([(12, 3), (13, 1), (99, 2)])
        #expect(ScoringJob.parseAddress(batch)!.map { [$0.job, Int64($0.attempt)] } == [[12, 3], [13, 1], [99, 2]])
        #expect(ScoringJob.parseAddress(Data("job:x:1".utf8)) == nil)
        #expect(ScoringJob.parseAddress(Data("job:1:1,".utf8)) == nil)
        #expect(ScoringJob.parseAddress(Data("job:1:1,job:2".utf8)) == nil)
        #expect(ScoringJob.parseAddress(Data()) == nil)
        let tooMany = ScoringJob.address((0...Int64(ScoringJob.maxBatch)).map { ($0, 1) })
        #expect(ScoringJob.parseAddress(tooMany) == nil)
        #expect(ScoringJob.parseAddress(Data("whatever".utf8)) == nil)
        // Read on its bytes: digits only, no sign, nothing after, no number past Int64.
        let largest = ScoringJob.address([(Int64.max, 7)])
        #expect(ScoringJob.parseAddress(largest)!.map { [$0.job, Int64($0.attempt)] } == [[Int64.max, 7]])
        for junk in [
            "job:9223372036854775808:1", "job:+1:1", "job:-1:1", "job:1:1x", "job:1:1,,job:2:1", "job:1::1", "job::1",
            "job:1:", "JOB:1:1", " job:1:1", "job:1:1 ",
        ] {
            #expect(ScoringJob.parseAddress(Data(junk.utf8)) == nil, "\(junk)")
        }
    }

    @Test func announcementsTravelAsTopicSequenceBody() throws {
        var announcement = Announcement(topic: .awarded, seq: 7, at: 1_000, challenge: "ch_a", title: "T")
        announcement.amount = Decimal(string: "1234.50")
        let frames = announcement.frames
        #expect(frames[0] == Data("challenge.awarded".utf8))
        #expect(frames[1] == Data("7".utf8))
        #expect(Announcement.parse(frames) == announcement)
        #expect(Announcement.parse([Data("x".utf8)]) == nil)
    }

    @Test func scorerSpecsNameExactlyOneScorer() {
        #expect(ScorerSpec(builtin: "exact").validate() == nil)
        #expect(ScorerSpec(plugin: "word-count_2").validate() == nil)
        #expect(ScorerSpec().validate() != nil)
        #expect(ScorerSpec(builtin: "exact", plugin: "x").validate() != nil)
        #expect(ScorerSpec(plugin: "../evil").validate() != nil)
        #expect(ScorerSpec(plugin: "x").service == "pumasi.plugin.x")
        #expect(ScorerSpec(builtin: "exact").service == Service.builtinScorers)
    }

    @Test func handWrittenJSONDecodesToTheSameValues() throws {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{7} café 🦜"
        var announcement = Announcement(
            topic: .awarded, seq: 41, at: 1_795_428_000_123, challenge: "ch_x", title: awkward)
        announcement.deadline = 5
        announcement.submission = "sub_y"
        announcement.solver = awkward
        announcement.score = 0.1 + 0.2
        announcement.rank = 1
        announcement.amount = Decimal(string: "12345.67")
        announcement.currency = "EUR"
        #expect(try JSONDecoder().decode(Announcement.self, from: announcement.json) == announcement)
        let bare = Announcement(topic: .opened, at: 1, challenge: "c", title: "")
        #expect(try JSONDecoder().decode(Announcement.self, from: bare.json) == bare)

        let receipt = Receipt(
            submission: "sub_a", challenge: "ch_b", sha256: "ff", size: 3, receivedAt: 9, duplicate: true)
        let reply = try JSONDecoder().decode(Reply<Receipt>.self, from: receipt.replyJSON)
        #expect(reply.ok && reply.v == wireVersion)
        #expect(reply.result == receipt)

        for scorer in [
            ScorerSpec(builtin: "csv-accuracy", options: ["id": "pump", "target": awkward]), ScorerSpec(plugin: "p"),
        ] {
            let job = ScoringJob(
                job: 7, attempt: 2, challenge: "ch_c", submission: "sub_d", filename: awkward, sha256: "00",
                scorer: scorer, reference: [FileEntry(name: "a \"b\".csv", role: .reference, sha256: "11", size: 12)],
                timeLimitSeconds: 2.5)
            #expect(try JSONDecoder().decode(ScoringJob.self, from: job.json) == job)
        }
        let results = [
            ScoringResult(
                ok: true, score: 0.75, metrics: ["accuracy": 0.75, awkward: 1], message: awkward, log: awkward),
            ScoringResult(ok: false, error: .init(code: "plugin_exit", message: awkward), log: "x"),
        ]
        for result in results {
            #expect(try JSONDecoder().decode(ScoringResult.self, from: result.json) == result)
        }
    }

    /// The writer spells an integer as `String(_:)` does, the extremes and every length of digits included.
    @Test func handWrittenIntegersAreSpelledAsSwiftSpellsThem() throws {
        var values: [Int64] = [0, 1, -1, 9, 10, -10, .max, .min, .max - 1, .min + 1]
        var power: Int64 = 1
        for _ in 0..<18 {
            power *= 10
            values += [power - 1, power, power + 1, -power, -(power - 1)]
        }
        var generator = SystemRandomNumberGenerator()
        values += (0..<200).map { _ in Int64.random(in: .min ... .max, using: &generator) }
        for value in values {
            var writer = JSONWriter()
            writer.int("n", value)
            #expect(String(decoding: writer.data, as: UTF8.self) == "{\"n\":\(value)}")
        }
    }

    /// The per-job bodies are read without `JSONDecoder`: the fast readers give what `JSONDecoder` gives, or nil
    /// (and `Wire.decode` then names the problem exactly as before).
    @Test func fastReadersAgreeWithJSONDecoder() throws {
        let awkward = "quote \" backslash \\ newline \n café 🦜 \u{0}"
        let requests = [
            SubmitRequest(challenge: "ch_a", solver: awkward, filename: "f.csv"),
            SubmitRequest(challenge: "ch_a", solver: "s", filename: awkward, clientId: "c-1"),
        ]
        for request in requests {
            let frame = Wire.encode(request)
            let fast = try #require(SubmitRequest.fastDecode(frame))
            let slow = try JSONDecoder().decode(SubmitRequest.self, from: frame)
            #expect(
                [fast.challenge, fast.solver, fast.filename, fast.clientId] == [
                    slow.challenge, slow.solver, slow.filename, slow.clientId,
                ])
        }
        let results = [
            ScoringResult(
                ok: true, score: 0.1 + 0.2, metrics: ["a": 1e-300, awkward: -2], message: awkward, log: awkward),
            ScoringResult(ok: false, error: .init(code: "plugin_exit", message: awkward), log: nil),
            ScoringResult(ok: true),
        ]
        for result in results {
            #expect(ScoringResult.fastDecode(result.json) == result)
            #expect(ScoringResult.fastDecode(Wire.encode(result)) == result)
        }
        let job = ScoringJob(
            job: 9_007_199_254_740, attempt: 3, challenge: "ch_c", submission: "sub_d", filename: awkward, sha256: "00",
            scorer: ScorerSpec(builtin: "csv-accuracy", options: ["id": awkward]),
            reference: [
                FileEntry(name: "a", role: .reference, sha256: "11", size: 12), FileEntry(name: "b", role: .public),
            ],
            timeLimitSeconds: 2.5)
        #expect(ScoringJob.fastDecode(job.json) == job)
        #expect(ScoringJob.fastDecode(Wire.encode(job)) == job)
        // Not the expected shape: nil from the fast reader, and the same named errors as before from Wire.decode.
        for (body, message) in [
            (#"{"v":1,"challenge":"c","solver":"s"}"#, "missing field \"filename\""),
            (#"{"v":1,"challenge":7,"solver":"s","filename":"f"}"#, "field \"challenge\" has the wrong type"),
            (#"{"v":2,"challenge":"c","solver":"s","filename":"f"}"#, "protocol version 2 is not supported"),
            (
                #"{"v":1,"challenge":"c","solver":"s","filename":"f","clientId":5}"#,
                "field \"clientId\" has the wrong type"
            ),
        ] {
            #expect(SubmitRequest.fastDecode(Data(body.utf8)) == nil)
            let error = try #require(throws: ProtocolError.self) {
                try Wire.decode(SubmitRequest.self, from: Data(body.utf8))
            }
            #expect(error.message.contains(message), "\(body): \(error)")
        }
        #expect(ScoringResult.fastDecode(Data(#"{"v":1,"ok":true,"score":"high"}"#.utf8)) == nil)
        #expect(ScoringResult.decode(Data(#"{"v":1,"ok":true,"score":"high"}"#.utf8)) == nil)
        #expect(ScoringJob.fastDecode(Data(#"{"v":1,"job":1.5}"#.utf8)) == nil)
    }

    /// The reader checks what it skips as strictly as what it reads: anything that is not RFC 8259 JSON is a nil
    /// (and the caller's fallback to `JSONDecoder` names it), never a value read from a broken body.
    @Test func jsonReaderRefusesWhatIsNotJSON() {
        let valid = #"{"v":1,"challenge":"c","solver":"s","filename":"f","extra":{"a":[1,-2.5e3,true,null,"\u00e9"]}}"#
        #expect(SubmitRequest.fastDecode(Data(valid.utf8))?.filename == "f")
        let broken: [(String, String)] = [
            ("unknown member not JSON", #"{"v":1,"challenge":"c","solver":"s","filename":"f","x":[1,]}"#),
            ("leading zero", #"{"v":1,"challenge":"c","solver":"s","filename":"f","x":01}"#),
            ("NaN", #"{"v":1,"ok":true,"score":NaN}"#),
            ("bad escape", #"{"v":1,"challenge":"c\q","solver":"s","filename":"f"}"#),
            ("lone surrogate", #"{"v":1,"challenge":"\ud800","solver":"s","filename":"f"}"#),
            ("raw control character", "{\"v\":1,\"challenge\":\"a\u{1}b\",\"solver\":\"s\",\"filename\":\"f\"}"),
            ("text after the value", #"{"v":1,"challenge":"c","solver":"s","filename":"f"} {}"#),
            ("unterminated", #"{"v":1,"challenge":"c","solver":"s","filename":"f""#),
            ("no version", #"{"challenge":"c","solver":"s","filename":"f"}"#),
            ("version as text", #"{"v":"1","challenge":"c","solver":"s","filename":"f"}"#),
            ("not an object", #"["v",1]"#),
            ("empty", ""),
            (
                "too deep",
                #"{"v":1,"challenge":"c","solver":"s","filename":"f","x":"# + String(repeating: "[", count: 70)
                    + String(repeating: "]", count: 70) + "}"
            ),
        ]
        for (what, body) in broken {
            #expect(SubmitRequest.fastDecode(Data(body.utf8)) == nil, "\(what)")
            #expect(ScoringResult.fastDecode(Data(body.utf8)) == nil, "\(what)")
        }
        // Invalid UTF-8 inside a string: refused, not repaired into U+FFFD.
        var invalid = Data(#"{"v":1,"challenge":"c","solver":""#.utf8)
        invalid.append(contentsOf: [0xC3, 0x28])
        invalid.append(Data(#"","filename":"f"}"#.utf8))
        #expect(SubmitRequest.fastDecode(invalid) == nil)
        #expect(throws: ProtocolError.self) { try Wire.decode(SubmitRequest.self, from: invalid) }
        // A member name with an escape is the name it spells.
        let escapedName = Data(#"{"v":1,"challenge":"c","solver":"s","file\u006eame":"f"}"#.utf8)
        #expect(SubmitRequest.fastDecode(escapedName)?.filename == "f")
    }
}
