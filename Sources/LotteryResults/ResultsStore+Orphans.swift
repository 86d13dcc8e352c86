import Foundation
import Logging

extension ResultsStore {
    /// Removes files under `masks/` that no committed round row points to: `*.tmp` files of interrupted writes and
    /// mask files whose transaction never committed (a power cut between the rename and the commit). Empty trial
    /// folders left behind are removed too. Every removal is logged and written to the `events` table.
    ///
    /// Files that are neither (names the store never writes) are left alone, with a warning.
    func removeOrphanMasks(now: Date) throws(StoreError) {
        let masks = root + "/masks"
        var isDirectory = false
        guard DurableFile.exists(masks, isDirectory: &isDirectory) else { return }
        guard isDirectory, let trialFolders = DurableFile.contents(of: masks) else {
            logger.warning("\(masks) is not a folder; mask files cannot be written until it is moved aside")
            return
        }
        var removed: [String] = []
        for trial in trialFolders {
            let folder = masks + "/" + trial
            guard let names = DurableFile.contents(of: folder) else {
                if trial.hasSuffix(DurableFile.temporarySuffix) {
                    try DurableFile.remove(folder)
                    removed.append("masks/" + trial)
                }
                continue
            }
            var kept = 0
            for name in names {
                let relative = "masks/\(trial)/\(name)"
                var orphan = name.hasSuffix(DurableFile.temporarySuffix)
                if !orphan, name.hasSuffix(".ltmask") { orphan = try !isCommitted(trial: trial, name: name) }
                if orphan {
                    try DurableFile.remove(folder + "/" + name)
                    removed.append(relative)
                } else {
                    if !name.hasSuffix(".ltmask") { logger.warning("unexpected file \(relative) left in place") }
                    kept += 1
                }
            }
            if kept == 0 {
                try DurableFile.removeDirectory(folder)
                removed.append("masks/\(trial)/")
            } else if names.count != kept {
                try DurableFile.syncDirectory(folder)
            }
        }
        if !removed.isEmpty { try DurableFile.syncDirectory(masks) }
        for path in removed {
            logger.notice("removed orphan \(path) (no committed round row; left by an interrupted write)")
            try logEvent(kind: "orphan-removed", message: path, at: now)
        }
        removedOrphans = removed
    }

    /// Whether `masks/<trial>/<name>` is the mask file of a committed round (a primary-key lookup per file).
    private func isCommitted(trial: String, name: String) throws(StoreError) -> Bool {
        guard name.hasPrefix("round-"), let round = Int(name.dropFirst("round-".count).dropLast(".ltmask".count)) else {
            return false
        }
        let path = try db.scalar(
            "SELECT mask_path FROM rounds WHERE trial_id = ? AND round = ?", [.text(trial), .integer(round)])
        return path?.string == "masks/\(trial)/\(name)"
    }
}
