import { CxrError } from '../errors';

export interface CsvRecord {
  /** 1-based line in the file where the record starts (the header is line 1). */
  line: number;
  fields: string[];
}

/**
 * RFC 4180 CSV: comma separated, fields optionally quoted with `"` (a doubled `""` inside quotes is one quote),
 * quoted fields may hold commas and line breaks, CRLF or LF endings, an optional UTF-8 BOM. Blank lines are dropped.
 */
export function parseCsv(text: string, source: string): CsvRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let inQuotes = false;
  let quotedFieldLine = 0;

  const endRecord = () => {
    fields.push(field);
    const blank = fields.length === 1 && fields[0].trim() === '';
    if (!blank) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
  };

  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
        }
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field.trim() === '') {
      field = '';
      inQuotes = true;
      quotedFieldLine = line;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += ch;
    }
  }
  if (inQuotes) {
    throw new CxrError('DATASET_INVALID', `${source}: line ${quotedFieldLine} opens a quoted field that is never closed. Add the closing '"'.`, {
      line: quotedFieldLine,
    });
  }
  if (field !== '' || fields.length > 0) endRecord();
  return records;
}
