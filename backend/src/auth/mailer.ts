// Outgoing mail (invitations) over SMTP with nodemailer; null when no SMTP server is configured.
// nodemailer is loaded on the first mail: a service without SMTP, or one that never sends, does
// not carry it (several MB of the ingest's memory budget).
import type { Transporter } from 'nodemailer';
import type { Config } from '../config.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
}

export function mailerFromConfig(config: Config): Mailer | null {
  const url = config.Z4J_SMTP_URL;
  if (!url) return null;
  let transport: Promise<Transporter> | null = null;
  return {
    async send(mail) {
      transport ??= import('nodemailer').then((m) => m.default.createTransport(url));
      await (await transport).sendMail({ from: config.Z4J_SMTP_FROM, ...mail });
    },
  };
}
