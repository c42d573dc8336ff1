import Foundation
import Testing

/// `snn train --recipe bntt` with nothing else given trains (issue 10: it sat at chance on digits
/// because the recipe's SGD took --lr's Adam default, 1e-3, and vgg5 refused non-image data).
@Suite struct RecipeCLITests {
    @Test func bnttRecipeDefaultsTrainOnNonImageData() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("snn-recipe-\(getpid()).snnmodel").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try CLIRun(["train", "--dataset", "digits", "--recipe", "bntt", "--epochs", "2", "--threads", "2", "--out", out])
        #expect(run.status == 0, "\(run.output.suffix(800))")
        #expect(run.output.contains("--recipe bntt: --arch input=64,fc128:bntt,fc10:readout"), "\(run.output.suffix(800))")
        #expect(run.output.contains("lr 0.1"), "\(run.output.suffix(800))")
        // Chance is 10%; two epochs of the recipe reach about 95% on the 359 held-out digits.
        let line = run.output.split(separator: "\n").first { $0.hasPrefix("layered test accuracy") }
        let accuracy = line.flatMap { Double($0.split(separator: " ")[3].dropLast()) }
        #expect((accuracy ?? 0) > 80, "\(run.output.suffix(800))")
    }
}
