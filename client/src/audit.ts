import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { auditDataset, lastAudit } from '../../common/src/protocol';
import type { AuditResponse, LastAuditResult } from '../../common/src/protocol';
import type { Backend } from './backend';
import { datasetLabel, datasetOfNode, type DatasetsTree } from './datasetsTree';
import { errorMessage, showError } from './errors';

/**
 * `cxr.auditDataset`: runs the dataset audit in the backend and shows it as a Markdown preview (findings, duplicate
 * pairs with thumbnails, the source-confound probe). The Markdown is written under the extension's storage.
 */
export class AuditCommand {
  private readonly audited = new vscode.EventEmitter<AuditResponse>();
  /** Fires after each audit that finished; the dataset view and the Datasets tree show its findings. */
  readonly onDidAudit = this.audited.event;
  constructor(
    private readonly backend: Backend,
    private readonly datasets: DatasetsTree,
    private readonly storage: vscode.Uri,
  ) {}

  /** The dataset's latest audit, from this session or an earlier one (the backend keeps it); null if none. */
  async latestAudit(dataset: string): Promise<LastAuditResult | null> {
    try {
      return await this.backend.request(lastAudit, { data: dataset });
    } catch (e) {
      this.backend.output.warn(`Could not read the latest audit of ${path.basename(dataset)}: ${errorMessage(e)}`);
      return null;
    }
  }

  async run(arg?: unknown): Promise<AuditResponse | undefined> {
    const dataset = datasetOfNode(arg)?.path ?? (typeof arg === 'string' ? arg : await this.pick());
    if (!dataset) return undefined;
    const name = path.basename(dataset);
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `CXR: auditing ${name}`, cancellable: true },
      async (_progress, token) => {
        try {
          const result = await this.backend.request(auditDataset, { data: dataset }, token);
          this.audited.fire(result);
          const file = path.join(this.storage.fsPath, 'audits', `${name.replace(/[^\w.-]+/g, '_')}-audit.md`);
          await fs.promises.mkdir(path.dirname(file), { recursive: true });
          await fs.promises.writeFile(file, result.markdown);
          await vscode.commands.executeCommand('markdown.showPreview', vscode.Uri.file(file));
          const critical = result.findings.filter((f) => f.severity === 'critical');
          this.backend.output.info(`Audited ${name}: ${result.findings.length} findings, ${critical.length} critical`);
          if (critical.length > 0) void vscode.window.showWarningMessage(`CXR audit of ${name}: ${critical.map((f) => f.kind).join(', ')}. See the audit report.`);
          return result;
        } catch (e) {
          if (!token.isCancellationRequested) await showError(`Audit of ${name} failed`, e, this.backend.output, dataset);
          return undefined;
        }
      },
    );
  }

  private async pick(): Promise<string | undefined> {
    const datasets = await this.datasets.datasets();
    const picked = await vscode.window.showQuickPick(
      datasets.map((d) => ({ label: datasetLabel(d), description: `${d.total} images`, detail: d.path })),
      { title: 'Audit which dataset?', matchOnDetail: true },
    );
    return picked?.detail;
  }
}
