import Foundation
import PumasiShared

/// How a challenge's award is decided once its scoring has drained.
enum AwardPolicy: String {
    /// The whole award to the best score; equal scores go to the earliest submission.
    case winnerTakesAll = "winner-takes-all"

    func decide(_ challenge: ChallengeRecord, store: Store, now: Millis) throws -> AwardInfo? {
        switch self {
        case .winnerTakesAll:
            guard let best = try store.bestSubmission(challenge) else { return nil }
            return AwardInfo(
                challenge: challenge.id, submission: best.submission, solver: best.solver,
                amount: challenge.award.amount, currency: challenge.award.currency, score: best.score,
                policy: rawValue, awardedAt: now)
        }
    }
}
