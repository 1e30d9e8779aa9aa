import Foundation
import PumasiShared

/// The broker's memory: everything it knows besides the store and its sockets. One value, so that it is rebuilt
/// from the store as a whole when a broker starts or takes over (`Broker.rebuildMemory`), and put back as a whole
/// when a request's savepoint is rolled back, so that memory never keeps what the store undid.
///
/// Thread rule: the broker's loop thread, as the broker itself.
struct BrokerMemory {
    var dispatcher = Dispatcher()
    /// Leases whose evaluator vanished after the pass that granted them committed.
    var orphanedLeases: [Lease] = []
    /// Open and closed-but-unsettled challenges, mirrored from the store so the loop's timers need no query.
    var liveChallenges: [String: ChallengeRecord] = [:]
    /// Reference files per challenge (they never change once posted).
    var referenceCache: [String: [FileEntry]] = [:]
    /// Submissions without an outcome under their challenge's current scorer version, per challenge.
    var pendingJobs: [String: Int] = [:]
    /// Redundant scoring: the replicas issued per submission and version (key with replica 0).
    var replicas: [JobKey: ReplicaState] = [:]
    /// The JSON members every job of a challenge shares, per challenge and scorer version.
    var jobTails: [String: (version: Int, json: Data)] = [:]
    /// Small submissions received by this run and not yet sent to an evaluator, by row: their first dispatch
    /// needs no read from the store. Bounded by `payloadCacheLimit` bytes; retries read the store.
    var recentPayloads: [Int64: JobPayload] = [:]
    var recentPayloadBytes = 0
    /// Closed challenges that may have finished scoring: checked for settlement at the end of the pass.
    var settleCandidates: Set<String> = []
    /// The current agreement of every challenge that has one (live or not: its terms outlive it).
    var agreements: [String: AgreementInfo] = [:]
    /// Invitation-only challenges: their announcements reach the log only, read back through `pumasi.events` by
    /// those who may see them, never the PUB socket.
    var invitationOnly: Set<String> = []
    /// Evaluators (by principal) that refused a challenge's scorer as misconfigured, per queue and scorer version,
    /// with their reason: its jobs go to other evaluators, or wait.
    var refusals: [RefusalKey: [String: String]] = [:]
    /// Queues whose seekers were told that no connected evaluator serves them (once per broker run and queue).
    var unservedTold: Set<String> = []
}

/// A challenge's queue under one scorer version.
struct RefusalKey: Hashable {
    var queue: String
    var version: Int
}

extension MDP.Inbound {
    /// A client's request, as opposed to an evaluator's message.
    var isClientRequest: Bool {
        if case .clientRequest = self { return true }
        return false
    }

    /// A client's `pumasi.submit`.
    var isSubmission: Bool {
        if case .clientRequest(let service, _) = self { return service == Service.submit }
        return false
    }
}
