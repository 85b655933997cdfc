"""A mail session with Python's imaplib, smtplib or poplib, for `mailspec
serve --client`: python3 serve_py.py PROTO PORT TLS CAFILE USER PASSWORD.
TLS is none, starttls or implicit; certificates are verified against
CAFILE with the host name localhost. Exit 0 when the whole session
worked, 1 (a traceback) when anything failed."""

import imaplib
import poplib
import smtplib
import ssl
import sys

proto, port, tls, cafile, user, password = sys.argv[1:7]
port = int(port)
host = "localhost"
ctx = ssl.create_default_context(cafile=cafile)
T = 10

if proto == "imap":
    if tls == "implicit":
        c = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=T)
    else:
        c = imaplib.IMAP4(host, port, timeout=T)
        if tls == "starttls":
            c.starttls(ssl_context=ctx)
    c.login(user, password)
    c.select("INBOX")
    typ, data = c.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK", data
    typ, data = c.uid("FETCH", "2", "(RFC822.SIZE BODY[])")
    size = int(data[0][0].split(b"RFC822.SIZE ")[1].split()[0])
    assert typ == "OK" and len(data[0][1]) == size, data
    typ, data = c.search(None, "ALL")
    assert data == [b"1 2"], data
    c.logout()
elif proto == "smtp":
    if tls == "implicit":
        c = smtplib.SMTP_SSL(host, port, context=ctx, timeout=T)
    else:
        c = smtplib.SMTP(host, port, timeout=T)
        if tls == "starttls":
            c.starttls(context=ctx)
    c.login(user, password)
    c.sendmail("alice@example.org", ["bob@example.org"],
               b"Subject: test\r\n\r\nHello.\r\n.leading dot\r\n")
    c.quit()
else:
    if tls == "implicit":
        c = poplib.POP3_SSL(host, port, context=ctx, timeout=T)
    else:
        c = poplib.POP3(host, port, timeout=T)
        if tls == "starttls":
            c.stls(context=ctx)
    c.user(user)
    c.pass_(password)
    count, size = c.stat()
    assert count == 2, count
    c.uidl()
    size = int(c.list(2).split()[2])
    resp, lines, octets = c.retr(2)
    # dot-stuffing undone (RFC 1939 3): the lines are the message's octets
    assert sum(len(line) + 2 for line in lines) == size, (size, lines)
    c.quit()
