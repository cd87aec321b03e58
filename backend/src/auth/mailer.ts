// Outgoing mail (invitations) over SMTP with nodemailer; null when no SMTP server is configured.
import nodemailer from 'nodemailer';
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
  if (!config.Z4J_SMTP_URL) return null;
  const transport = nodemailer.createTransport(config.Z4J_SMTP_URL);
  return {
    async send(mail) {
      await transport.sendMail({ from: config.Z4J_SMTP_FROM, ...mail });
    },
  };
}
