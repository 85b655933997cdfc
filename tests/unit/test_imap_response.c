/*
 * Unit tests of the IMAP response parser (RFC 9051 7 and 9 and extensions).
 * Every case runs through ms_check: whole, split at every byte, byte by byte
 * against guard pages, and parse/write/parse. Inputs are RFC 9051 examples
 * and responses as Dovecot 2.3 sends them; expected renderings were checked
 * by hand against the grammar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mailspec/imap_response.h"

struct rcase {
    const char *in;
    size_t len;
    const char *out;
};

static const struct rcase status_cases[] = {
    {"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
     "AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
     sizeof("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
            "AUTH=PLAIN] Dovecot (Debian) ready.\r\n") -
         1,
     "0+121 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"CAPABILITY\",\"args\":[\"IMAP4rev1\","
     "\"SASL-IR\",\"LOGIN-REFERRALS\",\"ID\",\"ENABLE\",\"IDLE\",\"LITERAL+\",\"STARTTLS\",\"AUTH="
     "PLAIN\"]},\"text\":\"Dovecot (Debian) ready.\"}\n"},
    {"* PREAUTH IMAP4rev2 server logged in as Smith\r\n",
     sizeof("* PREAUTH IMAP4rev2 server logged in as Smith\r\n") - 1,
     "0+47 {\"type\":\"preauth\",\"tag\":\"*\",\"text\":\"IMAP4rev2 server logged in as "
     "Smith\"}\n"},
    {"* BYE Autologout; idle for too long\r\n",
     sizeof("* BYE Autologout; idle for too long\r\n") - 1,
     "0+37 {\"type\":\"bye\",\"tag\":\"*\",\"text\":\"Autologout; idle for too long\"}\n"},
    {"a001 OK LOGIN completed\r\n", sizeof("a001 OK LOGIN completed\r\n") - 1,
     "0+25 {\"type\":\"ok\",\"tag\":\"a001\",\"text\":\"LOGIN completed\"}\n"},
    {"A142 OK [READ-WRITE] SELECT completed\r\n",
     sizeof("A142 OK [READ-WRITE] SELECT completed\r\n") - 1,
     "0+39 {\"type\":\"ok\",\"tag\":\"A142\",\"code\":{\"name\":\"READ-WRITE\"},\"text\":\"SELECT "
     "completed\"}\n"},
    {"A932 OK [READ-ONLY] EXAMINE completed\r\n",
     sizeof("A932 OK [READ-ONLY] EXAMINE completed\r\n") - 1,
     "0+39 {\"type\":\"ok\",\"tag\":\"A932\",\"code\":{\"name\":\"READ-ONLY\"},\"text\":\"EXAMINE "
     "completed\"}\n"},
    {"* OK [UNSEEN 12] Message 12 is first unseen\r\n",
     sizeof("* OK [UNSEEN 12] Message 12 is first unseen\r\n") - 1,
     "0+45 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"UNSEEN\",\"args\":[12]},\"text\":"
     "\"Message 12 is first unseen\"}\n"},
    {"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
     sizeof("* OK [UIDVALIDITY 3857529045] UIDs valid\r\n") - 1,
     "0+42 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"UIDVALIDITY\",\"args\":[3857529045]},"
     "\"text\":\"UIDs valid\"}\n"},
    {"* OK [UIDNEXT 4392] Predicted next UID\r\n",
     sizeof("* OK [UIDNEXT 4392] Predicted next UID\r\n") - 1,
     "0+40 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"UIDNEXT\",\"args\":[4392]},\"text\":"
     "\"Predicted next UID\"}\n"},
    {"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
     sizeof("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n") - 1,
     "0+51 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"PERMANENTFLAGS\",\"args\":[["
     "\"\\\\Deleted\",\"\\\\Seen\",\"\\\\*\"]]},\"text\":\"Limited\"}\n"},
    {"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n",
     sizeof("A003 OK [APPENDUID 38505 3955] APPEND completed\r\n") - 1,
     "0+49 "
     "{\"type\":\"ok\",\"tag\":\"A003\",\"code\":{\"name\":\"APPENDUID\",\"args\":[38505,\"3955\"]}"
     ",\"text\":\"APPEND completed\"}\n"},
    {"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
     sizeof("A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n") - 1,
     "0+52 "
     "{\"type\":\"ok\",\"tag\":\"A004\",\"code\":{\"name\":\"COPYUID\",\"args\":[38505,\"304,319:"
     "320\",\"3956:3958\"]},\"text\":\"Done\"}\n"},
    {"A005 NO [TRYCREATE] Mailbox does not exist\r\n",
     sizeof("A005 NO [TRYCREATE] Mailbox does not exist\r\n") - 1,
     "0+44 {\"type\":\"no\",\"tag\":\"A005\",\"code\":{\"name\":\"TRYCREATE\"},\"text\":\"Mailbox "
     "does not exist\"}\n"},
    {"* NO [ALERT] System shutdown in 10 minutes\r\n",
     sizeof("* NO [ALERT] System shutdown in 10 minutes\r\n") - 1,
     "0+44 {\"type\":\"no\",\"tag\":\"*\",\"code\":{\"name\":\"ALERT\"},\"text\":\"System shutdown "
     "in 10 minutes\"}\n"},
    {"* BAD [BADCHARSET (UTF-8 \"x\")] no\r\n",
     sizeof("* BAD [BADCHARSET (UTF-8 \"x\")] no\r\n") - 1,
     "0+35 "
     "{\"type\":\"bad\",\"tag\":\"*\",\"code\":{\"name\":\"BADCHARSET\",\"args\":[[\"UTF-8\",\"x\"]"
     "]},\"text\":\"no\"}\n"},
    {"a BAD [BADCHARSET] no\r\n", sizeof("a BAD [BADCHARSET] no\r\n") - 1,
     "0+23 {\"type\":\"bad\",\"tag\":\"a\",\"code\":{\"name\":\"BADCHARSET\"},\"text\":\"no\"}\n"},
    {"a NO [XFOO some text] x\r\n", sizeof("a NO [XFOO some text] x\r\n") - 1,
     "0+25 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"XFOO\",\"args\":[\"some "
     "text\"]},\"text\":\"x\"}\n"},
    {"a NO [XBAR] x\r\n", sizeof("a NO [XBAR] x\r\n") - 1,
     "0+15 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"XBAR\"},\"text\":\"x\"}\n"},
    {"* OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
     sizeof("* OK [HIGHESTMODSEQ 715194045007] Highest\r\n") - 1,
     "0+43 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"HIGHESTMODSEQ\",\"args\":[715194045007]},"
     "\"text\":\"Highest\"}\n"},
    {"a OK [NOMODSEQ] Sorry, this mailbox format does not support modsequences\r\n",
     sizeof("a OK [NOMODSEQ] Sorry, this mailbox format does not support modsequences\r\n") - 1,
     "0+74 {\"type\":\"ok\",\"tag\":\"a\",\"code\":{\"name\":\"NOMODSEQ\"},\"text\":\"Sorry, this "
     "mailbox format does not support modsequences\"}\n"},
    {"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n",
     sizeof("d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n") - 1,
     "0+49 "
     "{\"type\":\"ok\",\"tag\":\"d105\",\"code\":{\"name\":\"MODIFIED\",\"args\":[\"7,9\"]},"
     "\"text\":\"Conditional STORE failed\"}\n"},
    {"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\na NO [AUTHORIZATIONFAILED] no\r\na NO "
     "[EXPIRED] no\r\na NO [PRIVACYREQUIRED] no\r\na NO [CONTACTADMIN] no\r\na NO [NOPERM] no\r\na "
     "NO [INUSE] no\r\na NO [EXPUNGEISSUED] no\r\na NO [CORRUPTION] no\r\na NO [SERVERBUG] no\r\na "
     "NO [CLIENTBUG] no\r\na NO [CANNOT] no\r\na NO [LIMIT] no\r\na NO [OVERQUOTA] no\r\na NO "
     "[ALREADYEXISTS] no\r\na NO [NONEXISTENT] no\r\na NO [UNAVAILABLE] no\r\na NO [UIDNOTSTICKY] "
     "no\r\na NO [HASCHILDREN] no\r\n* OK [CLOSED] x\r\na NO [UNKNOWN-CTE] no\r\na BAD [PARSE] "
     "no\r\n",
     sizeof("a NO [AUTHENTICATIONFAILED] Authentication failed.\r\na NO [AUTHORIZATIONFAILED] "
            "no\r\na NO [EXPIRED] no\r\na NO [PRIVACYREQUIRED] no\r\na NO [CONTACTADMIN] no\r\na "
            "NO [NOPERM] no\r\na NO [INUSE] no\r\na NO [EXPUNGEISSUED] no\r\na NO [CORRUPTION] "
            "no\r\na NO [SERVERBUG] no\r\na NO [CLIENTBUG] no\r\na NO [CANNOT] no\r\na NO [LIMIT] "
            "no\r\na NO [OVERQUOTA] no\r\na NO [ALREADYEXISTS] no\r\na NO [NONEXISTENT] no\r\na NO "
            "[UNAVAILABLE] no\r\na NO [UIDNOTSTICKY] no\r\na NO [HASCHILDREN] no\r\n* OK [CLOSED] "
            "x\r\na NO [UNKNOWN-CTE] no\r\na BAD [PARSE] no\r\n") -
         1,
     "0+52 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"AUTHENTICATIONFAILED\"},\"text\":"
     "\"Authentication failed.\"}\n"
     "52+31 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"AUTHORIZATIONFAILED\"},\"text\":\"no\"}\n"
     "83+19 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"EXPIRED\"},\"text\":\"no\"}\n"
     "102+27 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"PRIVACYREQUIRED\"},\"text\":\"no\"}\n"
     "129+24 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"CONTACTADMIN\"},\"text\":\"no\"}\n"
     "153+18 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"NOPERM\"},\"text\":\"no\"}\n"
     "171+17 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"INUSE\"},\"text\":\"no\"}\n"
     "188+25 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"EXPUNGEISSUED\"},\"text\":\"no\"}\n"
     "213+22 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"CORRUPTION\"},\"text\":\"no\"}\n"
     "235+21 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"SERVERBUG\"},\"text\":\"no\"}\n"
     "256+21 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"CLIENTBUG\"},\"text\":\"no\"}\n"
     "277+18 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"CANNOT\"},\"text\":\"no\"}\n"
     "295+17 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"LIMIT\"},\"text\":\"no\"}\n"
     "312+21 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"OVERQUOTA\"},\"text\":\"no\"}\n"
     "333+25 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"ALREADYEXISTS\"},\"text\":\"no\"}\n"
     "358+23 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"NONEXISTENT\"},\"text\":\"no\"}\n"
     "381+23 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"UNAVAILABLE\"},\"text\":\"no\"}\n"
     "404+24 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"UIDNOTSTICKY\"},\"text\":\"no\"}\n"
     "428+23 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"HASCHILDREN\"},\"text\":\"no\"}\n"
     "451+17 {\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"CLOSED\"},\"text\":\"x\"}\n"
     "468+23 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"UNKNOWN-CTE\"},\"text\":\"no\"}\n"
     "491+18 {\"type\":\"bad\",\"tag\":\"a\",\"code\":{\"name\":\"PARSE\"},\"text\":\"no\"}\n"},
    {"a OK \r\n", sizeof("a OK \r\n") - 1, "0+7 {\"type\":\"ok\",\"tag\":\"a\",\"text\":\"\"}\n"},
    {"a1 ok [read-write] lower case keywords\r\n",
     sizeof("a1 ok [read-write] lower case keywords\r\n") - 1,
     "0+40 {\"type\":\"ok\",\"tag\":\"a1\",\"code\":{\"name\":\"read-write\"},\"text\":\"lower "
     "case keywords\"}\n"},
    {"a OK \xc3"
     "\xa9"
     "t\xc3"
     "\xa9"
     "\r\n",
     sizeof("a OK \xc3"
            "\xa9"
            "t\xc3"
            "\xa9"
            "\r\n") -
         1,
     "0+12 {\"type\":\"ok\",\"tag\":\"a\",\"text\":\"\xc3"
     "\xa9"
     "t\xc3"
     "\xa9"
     "\"}\n"},
    {"2 OK [ALERT] [not a code] text\r\n", sizeof("2 OK [ALERT] [not a code] text\r\n") - 1,
     "0+32 {\"type\":\"ok\",\"tag\":\"2\",\"code\":{\"name\":\"ALERT\"},\"text\":\"[not a code] "
     "text\"}\n"},
};

static const struct rcase cont_cases[] = {
    {"+ Ready for additional command text\r\n",
     sizeof("+ Ready for additional command text\r\n") - 1,
     "0+37 {\"type\":\"continue\",\"tag\":\"+\",\"text\":\"Ready for additional command text\"}\n"},
    {"+ \r\n", sizeof("+ \r\n") - 1, "0+4 {\"type\":\"continue\",\"tag\":\"+\",\"text\":\"\"}\n"},
    {"+ idling\r\n", sizeof("+ idling\r\n") - 1,
     "0+10 {\"type\":\"continue\",\"tag\":\"+\",\"text\":\"idling\"}\n"},
    {"+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=\r\n",
     sizeof("+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=\r\n") - 1,
     "0+76 "
     "{\"type\":\"continue\",\"tag\":\"+\",\"base64\":\"YGgGCSqGSIb3EgECAgIBAAD/////"
     "6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=\"}\n"},
    {"+ [ALERT] hi\r\n", sizeof("+ [ALERT] hi\r\n") - 1,
     "0+14 {\"type\":\"continue\",\"tag\":\"+\",\"code\":{\"name\":\"ALERT\"},\"text\":\"hi\"}\n"},
};

static const struct rcase data_cases[] = {
    {"* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n",
     sizeof("* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n") - 1,
     "0+59 "
     "{\"type\":\"capability\",\"tag\":\"*\",\"capabilities\":[\"IMAP4rev2\",\"STARTTLS\",\"AUTH="
     "GSSAPI\",\"LOGINDISABLED\"]}\n"},
    {"* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
     "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE "
     "UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
     "ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY "
     "PREVIEW STATUS=SIZE SAVEDATE LITERAL- NOTIFY SPECIAL-USE\r\n",
     sizeof(
         "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
         "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE "
         "UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH "
         "ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY "
         "PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL- NOTIFY SPECIAL-USE\r\n") -
         1,
     "0+410 "
     "{\"type\":\"capability\",\"tag\":\"*\",\"capabilities\":[\"IMAP4rev1\",\"LITERAL+\",\"SASL-"
     "IR\",\"LOGIN-REFERRALS\",\"ID\",\"ENABLE\",\"IDLE\",\"SORT\",\"SORT=DISPLAY\",\"THREAD="
     "REFERENCES\",\"THREAD=REFS\",\"THREAD=ORDEREDSUBJECT\",\"MULTIAPPEND\",\"URL-PARTIAL\","
     "\"CATENATE\",\"UNSELECT\",\"CHILDREN\",\"NAMESPACE\",\"UIDPLUS\",\"LIST-EXTENDED\","
     "\"I18NLEVEL=1\",\"CONDSTORE\",\"QRESYNC\",\"ESEARCH\",\"ESORT\",\"SEARCHRES\",\"WITHIN\","
     "\"CONTEXT=SEARCH\",\"LIST-STATUS\",\"BINARY\",\"MOVE\",\"SNIPPET=FUZZY\",\"PREVIEW=FUZZY\","
     "\"PREVIEW\",\"STATUS=SIZE\",\"SAVEDATE\",\"LITERAL-\",\"NOTIFY\",\"SPECIAL-USE\"]}\n"},
    {"* ENABLED CONDSTORE QRESYNC\r\n* ENABLED\r\n",
     sizeof("* ENABLED CONDSTORE QRESYNC\r\n* ENABLED\r\n") - 1,
     "0+29 {\"type\":\"enabled\",\"tag\":\"*\",\"capabilities\":[\"CONDSTORE\",\"QRESYNC\"]}\n"
     "29+11 {\"type\":\"enabled\",\"tag\":\"*\",\"capabilities\":[]}\n"},
    {"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* FLAGS ()\r\n",
     sizeof("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* FLAGS ()\r\n") - 1,
     "0+52 "
     "{\"type\":\"flags\",\"tag\":\"*\",\"flags\":[\"\\\\Answered\",\"\\\\Flagged\","
     "\"\\\\Deleted\",\"\\\\Seen\",\"\\\\Draft\"]}\n"
     "52+12 {\"type\":\"flags\",\"tag\":\"*\",\"flags\":[]}\n"},
    {"* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n",
     sizeof("* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n") - 1,
     "0+35 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[\"\\\\Noselect\"],\"delimiter\":\"/"
     "\",\"mailbox\":\"~/Mail/foo\"}\n"},
    {"* LIST () NIL INBOX\r\n", sizeof("* LIST () NIL INBOX\r\n") - 1,
     "0+21 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":null,\"mailbox\":\"INBOX\"}\n"},
    {"* LIST (\\HasNoChildren) \".\" INBOX\r\n",
     sizeof("* LIST (\\HasNoChildren) \".\" INBOX\r\n") - 1,
     "0+35 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[\"\\\\HasNoChildren\"],\"delimiter\":\".\","
     "\"mailbox\":\"INBOX\"}\n"},
    {"* LSUB () \".\" #news.comp.mail.misc\r\n",
     sizeof("* LSUB () \".\" #news.comp.mail.misc\r\n") - 1,
     "0+36 "
     "{\"type\":\"lsub\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\".\",\"mailbox\":\"#news.comp."
     "mail.misc\"}\n"},
    {"* LIST (\\Marked) \".\" \"a \\\"b\\\"\"\r\n",
     sizeof("* LIST (\\Marked) \".\" \"a \\\"b\\\"\"\r\n") - 1,
     "0+32 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[\"\\\\Marked\"],\"delimiter\":\".\",\"mailbox\":"
     "\"a \\\"b\\\"\"}\n"},
    {"* LIST () \"\\\\\" x\r\n", sizeof("* LIST () \"\\\\\" x\r\n") - 1,
     "0+18 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"\\\\\",\"mailbox\":\"x\"}\n"},
    {"* LIST () \"/\" {3}\r\na b\r\n", sizeof("* LIST () \"/\" {3}\r\na b\r\n") - 1,
     "0+24 {\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/\",\"mailbox\":\"a "
     "b\"}\n"},
    {"* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
     sizeof("* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n") - 1,
     "0+50 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/"
     "\",\"mailbox\":\"Foo\",\"extended\":[{\"name\":\"CHILDINFO\",\"value\":[\"SUBSCRIBED\"]}]}"
     "\n"},
    {"* LIST () \"/\" \"NewName\" (\"OLDNAME\" (\"OldName\"))\r\n",
     sizeof("* LIST () \"/\" \"NewName\" (\"OLDNAME\" (\"OldName\"))\r\n") - 1,
     "0+49 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/"
     "\",\"mailbox\":\"NewName\",\"extended\":[{\"name\":\"OLDNAME\",\"value\":[\"OldName\"]}]}\n"},
    {"* LIST (\\Subscribed \\NonExistent) \"/\" \"Fruit/Peach\"\r\n",
     sizeof("* LIST (\\Subscribed \\NonExistent) \"/\" \"Fruit/Peach\"\r\n") - 1,
     "0+53 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[\"\\\\Subscribed\",\"\\\\NonExistent\"],"
     "\"delimiter\":\"/\",\"mailbox\":\"Fruit/Peach\"}\n"},
    {"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" "
     "\"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
     sizeof("* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" "
            "\"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n") -
         1,
     "0+98 "
     "{\"type\":\"namespace\",\"tag\":\"*\",\"personal\":[[\"\",\"/\"]],\"other\":[[\"~\",\"/"
     "\"]],\"shared\":[[\"#shared/\",\"/\"],[\"#public/\",\"/\"],[\"#ftp/\",\"/"
     "\"],[\"#news.\",\".\"]]}\n"},
    {"* NAMESPACE ((\"\" \".\" \"X-PARAM\" (\"a\" \"b\"))) NIL NIL\r\n",
     sizeof("* NAMESPACE ((\"\" \".\" \"X-PARAM\" (\"a\" \"b\"))) NIL NIL\r\n") - 1,
     "0+52 "
     "{\"type\":\"namespace\",\"tag\":\"*\",\"personal\":[[\"\",\".\",\"X-PARAM\",[\"a\",\"b\"]]],"
     "\"other\":null,\"shared\":null}\n"},
    {"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
     sizeof("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n") - 1,
     "0+51 "
     "{\"type\":\"status\",\"tag\":\"*\",\"mailbox\":\"blurdybloop\",\"attrs\":[{\"name\":"
     "\"MESSAGES\",\"value\":231},{\"name\":\"UIDNEXT\",\"value\":44292}]}\n"},
    {"* STATUS INBOX (MESSAGES 3 RECENT 0 UIDNEXT 4 UIDVALIDITY 1700000000 UNSEEN 3 HIGHESTMODSEQ "
     "5 SIZE 9223372036854775807 DELETED 0 APPENDLIMIT NIL)\r\n",
     sizeof("* STATUS INBOX (MESSAGES 3 RECENT 0 UIDNEXT 4 UIDVALIDITY 1700000000 UNSEEN 3 "
            "HIGHESTMODSEQ 5 SIZE 9223372036854775807 DELETED 0 APPENDLIMIT NIL)\r\n") -
         1,
     "0+147 "
     "{\"type\":\"status\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"attrs\":[{\"name\":\"MESSAGES\","
     "\"value\":3},{\"name\":\"RECENT\",\"value\":0},{\"name\":\"UIDNEXT\",\"value\":4},{\"name\":"
     "\"UIDVALIDITY\",\"value\":1700000000},{\"name\":\"UNSEEN\",\"value\":3},{\"name\":"
     "\"HIGHESTMODSEQ\",\"value\":5},{\"name\":\"SIZE\",\"value\":9223372036854775807},{\"name\":"
     "\"DELETED\",\"value\":0},{\"name\":\"APPENDLIMIT\",\"value\":null}]}\n"},
    {"* STATUS \"a b\" ()\r\n", sizeof("* STATUS \"a b\" ()\r\n") - 1,
     "0+19 {\"type\":\"status\",\"tag\":\"*\",\"mailbox\":\"a b\",\"attrs\":[]}\n"},
    {"* SEARCH 2 3 6\r\n", sizeof("* SEARCH 2 3 6\r\n") - 1,
     "0+16 {\"type\":\"search\",\"tag\":\"*\",\"numbers\":[2,3,6]}\n"},
    {"* SORT 2 3 6\r\n", sizeof("* SORT 2 3 6\r\n") - 1,
     "0+14 {\"type\":\"sort\",\"tag\":\"*\",\"numbers\":[2,3,6]}\n"},
    {"* SORT\r\n", sizeof("* SORT\r\n") - 1,
     "0+8 {\"type\":\"sort\",\"tag\":\"*\",\"numbers\":[]}\n"},
    {"* SORT 5 3 (MODSEQ 9)\r\n", sizeof("* SORT 5 3 (MODSEQ 9)\r\n") - 1,
     "0+23 {\"type\":\"sort\",\"tag\":\"*\",\"numbers\":[5,3],\"modseq\":9}\n"},
    {"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n", sizeof("* THREAD (2)(3 6 (4 23)(44 7 96))\r\n") - 1,
     "0+35 {\"type\":\"thread\",\"tag\":\"*\",\"threads\":[[2],[3,6,[4,23],[44,7,96]]]}\n"},
    {"* THREAD\r\n", sizeof("* THREAD\r\n") - 1,
     "0+10 {\"type\":\"thread\",\"tag\":\"*\",\"threads\":[]}\n"},
    {"* THREAD ((3)(5))\r\n", sizeof("* THREAD ((3)(5))\r\n") - 1,
     "0+19 {\"type\":\"thread\",\"tag\":\"*\",\"threads\":[[[3],[5]]]}\n"},
    {"* THREAD (166)(174 (175)(176 (177)(178)))\r\n",
     sizeof("* THREAD (166)(174 (175)(176 (177)(178)))\r\n") - 1,
     "0+43 "
     "{\"type\":\"thread\",\"tag\":\"*\",\"threads\":[[166],[174,[175],[176,[177],[178]]]]}\n"},
    {"* QUOTA \"\" (STORAGE 10 512)\r\n", sizeof("* QUOTA \"\" (STORAGE 10 512)\r\n") - 1,
     "0+29 "
     "{\"type\":\"quota\",\"tag\":\"*\",\"root\":\"\",\"resources\":[{\"name\":\"STORAGE\","
     "\"usage\":10,\"limit\":512}]}\n"},
    {"* QUOTA \"#user/alice\" (STORAGE 10 512 MESSAGE 3 1000)\r\n",
     sizeof("* QUOTA \"#user/alice\" (STORAGE 10 512 MESSAGE 3 1000)\r\n") - 1,
     "0+55 "
     "{\"type\":\"quota\",\"tag\":\"*\",\"root\":\"#user/"
     "alice\",\"resources\":[{\"name\":\"STORAGE\",\"usage\":10,\"limit\":512},{\"name\":"
     "\"MESSAGE\",\"usage\":3,\"limit\":1000}]}\n"},
    {"* QUOTA \"\" ()\r\n", sizeof("* QUOTA \"\" ()\r\n") - 1,
     "0+15 {\"type\":\"quota\",\"tag\":\"*\",\"root\":\"\",\"resources\":[]}\n"},
    {"* QUOTA {1}\r\nx (X-OTHER 9223372036854775807 0)\r\n",
     sizeof("* QUOTA {1}\r\nx (X-OTHER 9223372036854775807 0)\r\n") - 1,
     "0+48 "
     "{\"type\":\"quota\",\"tag\":\"*\",\"root\":\"x\",\"resources\":[{\"name\":\"X-OTHER\","
     "\"usage\":9223372036854775807,\"limit\":0}]}\n"},
    {"* QUOTAROOT INBOX \"\"\r\n", sizeof("* QUOTAROOT INBOX \"\"\r\n") - 1,
     "0+22 {\"type\":\"quotaroot\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"roots\":[\"\"]}\n"},
    {"* QUOTAROOT comp.mail.mime\r\n", sizeof("* QUOTAROOT comp.mail.mime\r\n") - 1,
     "0+28 {\"type\":\"quotaroot\",\"tag\":\"*\",\"mailbox\":\"comp.mail.mime\",\"roots\":[]}\n"},
    {"* QUOTAROOT INBOX \"\" \"#user/x\"\r\n", sizeof("* QUOTAROOT INBOX \"\" \"#user/x\"\r\n") - 1,
     "0+32 "
     "{\"type\":\"quotaroot\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"roots\":[\"\",\"#user/x\"]}\n"},
    {"* ACL INBOX Fred rwipsldexta\r\n", sizeof("* ACL INBOX Fred rwipsldexta\r\n") - 1,
     "0+30 "
     "{\"type\":\"acl\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"entries\":[[\"Fred\",\"rwipsldexta\"]"
     "]}\n"},
    {"* ACL INBOX\r\n", sizeof("* ACL INBOX\r\n") - 1,
     "0+13 {\"type\":\"acl\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"entries\":[]}\n"},
    {"* ACL INBOX a lr \"b c\" lrs\r\n", sizeof("* ACL INBOX a lr \"b c\" lrs\r\n") - 1,
     "0+28 {\"type\":\"acl\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"entries\":[[\"a\",\"lr\"],[\"b "
     "c\",\"lrs\"]]}\n"},
    {"* LISTRIGHTS ~/Mail/saved smith la r swicdkxte\r\n",
     sizeof("* LISTRIGHTS ~/Mail/saved smith la r swicdkxte\r\n") - 1,
     "0+48 "
     "{\"type\":\"listrights\",\"tag\":\"*\",\"mailbox\":\"~/Mail/"
     "saved\",\"identifier\":\"smith\",\"required\":\"la\",\"optional\":[\"r\",\"swicdkxte\"]}\n"},
    {"* MYRIGHTS INBOX rwiptsldaex\r\n", sizeof("* MYRIGHTS INBOX rwiptsldaex\r\n") - 1,
     "0+30 "
     "{\"type\":\"myrights\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"rights\":\"rwiptsldaex\"}\n"},
    {"* METADATA \"\" (/shared/comment \"My comment\")\r\n",
     sizeof("* METADATA \"\" (/shared/comment \"My comment\")\r\n") - 1,
     "0+46 "
     "{\"type\":\"metadata\",\"tag\":\"*\",\"mailbox\":\"\",\"values\":[[\"/shared/comment\",\"My "
     "comment\"]]}\n"},
    {"* METADATA INBOX (/private/comment \"My own comment\" /shared/comment NIL)\r\n",
     sizeof("* METADATA INBOX (/private/comment \"My own comment\" /shared/comment NIL)\r\n") - 1,
     "0+74 "
     "{\"type\":\"metadata\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"values\":[[\"/private/"
     "comment\",\"My own comment\"],[\"/shared/comment\",null]]}\n"},
    {"* METADATA INBOX /shared/comment /private/comment\r\n",
     sizeof("* METADATA INBOX /shared/comment /private/comment\r\n") - 1,
     "0+51 "
     "{\"type\":\"metadata\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"entries\":[\"/shared/"
     "comment\",\"/private/comment\"]}\n"},
    {"* METADATA INBOX (/private/x ~{3}\r\naxb)\r\n",
     sizeof("* METADATA INBOX (/private/x ~{3}\r\naxb)\r\n") - 1,
     "0+41 "
     "{\"type\":\"metadata\",\"tag\":\"*\",\"mailbox\":\"INBOX\",\"values\":[[\"/private/"
     "x\",\"axb\"]]}\n"},
    {"* SEARCH\r\n", sizeof("* SEARCH\r\n") - 1,
     "0+10 {\"type\":\"search\",\"tag\":\"*\",\"numbers\":[]}\n"},
    {"* SEARCH 2 5 6 7 11 (MODSEQ 917162500)\r\n",
     sizeof("* SEARCH 2 5 6 7 11 (MODSEQ 917162500)\r\n") - 1,
     "0+40 {\"type\":\"search\",\"tag\":\"*\",\"numbers\":[2,5,6,7,11],\"modseq\":917162500}\n"},
    {"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n",
     sizeof("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n") - 1,
     "0+38 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"A282\",\"uid\":false,\"returns\":[{"
     "\"name\":\"MIN\",\"value\":2},{\"name\":\"COUNT\",\"value\":3}]}\n"},
    {"* ESEARCH (TAG \"A283\") UID ALL 4:18,21,28\r\n",
     sizeof("* ESEARCH (TAG \"A283\") UID ALL 4:18,21,28\r\n") - 1,
     "0+43 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"A283\",\"uid\":true,\"returns\":[{"
     "\"name\":\"ALL\",\"value\":\"4:18,21,28\"}]}\n"},
    {"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n",
     sizeof("* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n") - 1,
     "0+43 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"A285\",\"uid\":true,\"returns\":[{"
     "\"name\":\"MIN\",\"value\":7},{\"name\":\"MAX\",\"value\":3800}]}\n"},
    {"* ESEARCH\r\n", sizeof("* ESEARCH\r\n") - 1,
     "0+11 {\"type\":\"esearch\",\"tag\":\"*\",\"uid\":false,\"returns\":[]}\n"},
    {"* ESEARCH UID COUNT 0 MODSEQ 42 XEXT (1 2)\r\n",
     sizeof("* ESEARCH UID COUNT 0 MODSEQ 42 XEXT (1 2)\r\n") - 1,
     "0+44 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"uid\":true,\"returns\":[{\"name\":\"COUNT\",\"value\":"
     "0},{\"name\":\"MODSEQ\",\"value\":42},{\"name\":\"XEXT\",\"value\":[1,2]}]}\n"},
    {"* 23 EXISTS\r\n* 0 EXISTS\r\n* 5 RECENT\r\n* 44 EXPUNGE\r\n",
     sizeof("* 23 EXISTS\r\n* 0 EXISTS\r\n* 5 RECENT\r\n* 44 EXPUNGE\r\n") - 1,
     "0+13 {\"type\":\"exists\",\"tag\":\"*\",\"count\":23}\n"
     "13+12 {\"type\":\"exists\",\"tag\":\"*\",\"count\":0}\n"
     "25+12 {\"type\":\"recent\",\"tag\":\"*\",\"count\":5}\n"
     "37+14 {\"type\":\"expunge\",\"tag\":\"*\",\"seq\":44}\n"},
    {"* 4294967295 EXISTS\r\n", sizeof("* 4294967295 EXISTS\r\n") - 1,
     "0+21 {\"type\":\"exists\",\"tag\":\"*\",\"count\":4294967295}\n"},
    {"* VANISHED (EARLIER) 300:310,405,411\r\n* VANISHED 405,407\r\n",
     sizeof("* VANISHED (EARLIER) 300:310,405,411\r\n* VANISHED 405,407\r\n") - 1,
     "0+38 {\"type\":\"vanished\",\"tag\":\"*\",\"earlier\":true,\"uids\":\"300:310,405,411\"}\n"
     "38+20 {\"type\":\"vanished\",\"tag\":\"*\",\"earlier\":false,\"uids\":\"405,407\"}\n"},
    {"* ID (\"name\" \"Dovecot\")\r\n* ID NIL\r\n* ID (\"name\" \"x\" \"version\" NIL)\r\n",
     sizeof(
         "* ID (\"name\" \"Dovecot\")\r\n* ID NIL\r\n* ID (\"name\" \"x\" \"version\" NIL)\r\n") -
         1,
     "0+25 {\"type\":\"id\",\"tag\":\"*\",\"params\":[[\"name\",\"Dovecot\"]]}\n"
     "25+10 {\"type\":\"id\",\"tag\":\"*\",\"params\":null}\n"
     "35+33 {\"type\":\"id\",\"tag\":\"*\",\"params\":[[\"name\",\"x\"],[\"version\",null]]}\n"},
};

static const struct rcase fetch_cases[] = {
    {"* 23 FETCH (FLAGS (\\Seen) UID 4827313)\r\n",
     sizeof("* 23 FETCH (FLAGS (\\Seen) UID 4827313)\r\n") - 1,
     "0+40 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":23,\"attrs\":[{\"name\":\"FLAGS\",\"value\":["
     "\"\\\\Seen\"]},{\"name\":\"UID\",\"value\":4827313}]}\n"},
    {"* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 "
     "ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\" "
     "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
     "\"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL "
     "\"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John "
     "Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") "
     "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n",
     sizeof("* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE "
            "4286 ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary "
            "and minutes\" ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" "
            "NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
            "\"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) ((NIL NIL "
            "\"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL "
            "NIL \"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" "
            "\"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n") -
         1,
     "0+560 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":12,\"attrs\":[{\"name\":\"FLAGS\",\"value\":["
     "\"\\\\Seen\"]},{\"name\":\"INTERNALDATE\",\"value\":\"17-Jul-1996 02:44:25 "
     "-0700\"},{\"name\":\"RFC822.SIZE\",\"value\":4286},{\"name\":\"ENVELOPE\",\"value\":{"
     "\"date\":\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\",\"subject\":\"IMAP4rev2 WG mtg summary "
     "and minutes\",\"from\":[{\"name\":\"Terry "
     "Gray\",\"adl\":null,\"mailbox\":\"gray\",\"host\":\"cac.washington.edu\"}],\"sender\":[{"
     "\"name\":\"Terry "
     "Gray\",\"adl\":null,\"mailbox\":\"gray\",\"host\":\"cac.washington.edu\"}],\"reply_to\":[{"
     "\"name\":\"Terry "
     "Gray\",\"adl\":null,\"mailbox\":\"gray\",\"host\":\"cac.washington.edu\"}],\"to\":[{\"name\":"
     "null,\"adl\":null,\"mailbox\":\"imap\",\"host\":\"cac.washington.edu\"}],\"cc\":[{\"name\":"
     "null,\"adl\":null,\"mailbox\":\"minutes\",\"host\":\"CNRI.Reston.VA.US\"},{\"name\":\"John "
     "Klensin\",\"adl\":null,\"mailbox\":\"KLENSIN\",\"host\":\"MIT.EDU\"}],\"bcc\":null,\"in_"
     "reply_to\":null,\"message_id\":\"<B27397-0100000@cac.washington.edu>\"}},{\"name\":\"BODY\","
     "\"value\":{\"kind\":\"text\",\"type\":\"TEXT\",\"subtype\":\"PLAIN\",\"params\":[["
     "\"CHARSET\",\"US-ASCII\"]],\"id\":null,\"description\":null,\"encoding\":\"7BIT\",\"octets\":"
     "3028,\"lines\":92}}]}\n"},
    {"* 1 FETCH (UID 1 BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
     "\"7bit\" 12 1 NIL NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" \"a.bin\") NIL NIL "
     "\"base64\" 100 NIL (\"attachment\" (\"filename\" \"a.bin\")) NIL NIL) \"mixed\" "
     "(\"boundary\" \"xyz\") NIL NIL NIL))\r\n",
     sizeof("* 1 FETCH (UID 1 BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL "
            "NIL \"7bit\" 12 1 NIL NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" "
            "\"a.bin\") NIL NIL \"base64\" 100 NIL (\"attachment\" (\"filename\" \"a.bin\")) NIL "
            "NIL) \"mixed\" (\"boundary\" \"xyz\") NIL NIL NIL))\r\n") -
         1,
     "0+266 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"UID\",\"value\":1},{"
     "\"name\":\"BODYSTRUCTURE\",\"value\":{\"type\":\"MULTIPART\",\"parts\":[{\"kind\":\"text\","
     "\"type\":\"text\",\"subtype\":\"plain\",\"params\":[[\"charset\",\"us-ascii\"]],\"id\":null,"
     "\"description\":null,\"encoding\":\"7bit\",\"octets\":12,\"lines\":1,\"md5\":null,"
     "\"disposition\":null,\"language\":null,\"location\":null},{\"kind\":\"basic\",\"type\":"
     "\"application\",\"subtype\":\"octet-stream\",\"params\":[[\"name\",\"a.bin\"]],\"id\":null,"
     "\"description\":null,\"encoding\":\"base64\",\"octets\":100,\"md5\":null,\"disposition\":["
     "\"attachment\",[[\"filename\",\"a.bin\"]]],\"language\":null,\"location\":null}],\"subtype\":"
     "\"mixed\",\"params\":[[\"boundary\",\"xyz\"]],\"disposition\":null,\"language\":null,"
     "\"location\":null}}]}\n"},
    {"* 2 FETCH (BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 500 (NIL \"sub\" ((NIL "
     "NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL NIL NIL NIL) (\"text\" "
     "\"plain\" NIL NIL NIL \"7bit\" 3 1) 20 NIL NIL NIL NIL (1 (\"a\" (2 NIL))) \"x\"))\r\n",
     sizeof("* 2 FETCH (BODYSTRUCTURE (\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 500 (NIL "
            "\"sub\" ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL "
            "NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 3 1) 20 NIL NIL NIL NIL (1 "
            "(\"a\" (2 NIL))) \"x\"))\r\n") -
         1,
     "0+250 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":2,\"attrs\":[{\"name\":\"BODYSTRUCTURE\",\"value\":"
     "{\"kind\":\"message\",\"type\":\"message\",\"subtype\":\"rfc822\",\"params\":null,\"id\":"
     "null,\"description\":null,\"encoding\":\"7bit\",\"octets\":500,\"envelope\":{\"date\":null,"
     "\"subject\":\"sub\",\"from\":[{\"name\":null,\"adl\":null,\"mailbox\":\"undisclosed-"
     "recipients\",\"host\":null,\"group\":\"start\"},{\"name\":null,\"adl\":null,\"mailbox\":null,"
     "\"host\":null,\"group\":\"end\"}],\"sender\":null,\"reply_to\":null,\"to\":null,\"cc\":null,"
     "\"bcc\":null,\"in_reply_to\":null,\"message_id\":null},\"body\":{\"kind\":\"text\",\"type\":"
     "\"text\",\"subtype\":\"plain\",\"params\":null,\"id\":null,\"description\":null,\"encoding\":"
     "\"7bit\",\"octets\":3,\"lines\":1},\"lines\":20,\"md5\":null,\"disposition\":null,"
     "\"language\":null,\"location\":null,\"extensions\":[[1,[\"a\",[2,null]]],\"x\"]}}]}\n"},
    {"* 3 FETCH (BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)((\"text\" \"html\" NIL NIL "
     "NIL \"qUoTeD-PrInTaBlE\" 2 1)(\"image\" \"png\" NIL \"<id>\" \"desc\" \"base64\" 3) "
     "\"related\") \"alternative\"))\r\n",
     sizeof("* 3 FETCH (BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)((\"text\" \"html\" NIL "
            "NIL NIL \"qUoTeD-PrInTaBlE\" 2 1)(\"image\" \"png\" NIL \"<id>\" \"desc\" \"base64\" "
            "3) \"related\") \"alternative\"))\r\n") -
         1,
     "0+180 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":3,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"type\":\"MULTIPART\",\"parts\":[{\"kind\":\"text\",\"type\":\"text\",\"subtype\":\"plain\","
     "\"params\":null,\"id\":null,\"description\":null,\"encoding\":\"7bit\",\"octets\":1,"
     "\"lines\":1},{\"type\":\"MULTIPART\",\"parts\":[{\"kind\":\"text\",\"type\":\"text\","
     "\"subtype\":\"html\",\"params\":null,\"id\":null,\"description\":null,\"encoding\":\"qUoTeD-"
     "PrInTaBlE\",\"octets\":2,\"lines\":1},{\"kind\":\"basic\",\"type\":\"image\",\"subtype\":"
     "\"png\",\"params\":null,\"id\":\"<id>\",\"description\":\"desc\",\"encoding\":\"base64\","
     "\"octets\":3}],\"subtype\":\"related\"}],\"subtype\":\"alternative\"}}]}\n"},
    {"* 4 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") "
     "NIL NIL \"8bit\" 10 2 \"md5sum\" (\"inline\" NIL) (\"en\" \"de\") \"http://x\"))\r\n",
     sizeof("* 4 FETCH (BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" "
            "\"flowed\") NIL NIL \"8bit\" 10 2 \"md5sum\" (\"inline\" NIL) (\"en\" \"de\") "
            "\"http://x\"))\r\n") -
         1,
     "0+149 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":4,\"attrs\":[{\"name\":\"BODYSTRUCTURE\",\"value\":"
     "{\"kind\":\"text\",\"type\":\"text\",\"subtype\":\"plain\",\"params\":[[\"charset\",\"utf-"
     "8\"],[\"format\",\"flowed\"]],\"id\":null,\"description\":null,\"encoding\":\"8bit\","
     "\"octets\":10,\"lines\":2,\"md5\":\"md5sum\",\"disposition\":[\"inline\",null],\"language\":["
     "\"en\",\"de\"],\"location\":\"http://x\"}}]}\n"},
    {"* 5 FETCH (BODYSTRUCTURE (\"APPLICATION\" \"X-Y\" NIL NIL NIL \"BINARY\" 0 NIL NIL "
     "\"en\"))\r\n",
     sizeof("* 5 FETCH (BODYSTRUCTURE (\"APPLICATION\" \"X-Y\" NIL NIL NIL \"BINARY\" 0 NIL NIL "
            "\"en\"))\r\n") -
         1,
     "0+85 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":5,\"attrs\":[{\"name\":\"BODYSTRUCTURE\",\"value\":"
     "{\"kind\":\"basic\",\"type\":\"APPLICATION\",\"subtype\":\"X-Y\",\"params\":null,\"id\":null,"
     "\"description\":null,\"encoding\":\"BINARY\",\"octets\":0,\"md5\":null,\"disposition\":null,"
     "\"language\":\"en\"}}]}\n"},
    {"* 6 FETCH (BODYSTRUCTURE (\"message\" \"global\" NIL NIL NIL \"8bit\" 9 (NIL NIL NIL NIL NIL "
     "NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"8bit\" 0 0) 0))\r\n",
     sizeof("* 6 FETCH (BODYSTRUCTURE (\"message\" \"global\" NIL NIL NIL \"8bit\" 9 (NIL NIL NIL "
            "NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"8bit\" 0 0) 0))\r\n") -
         1,
     "0+153 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":6,\"attrs\":[{\"name\":\"BODYSTRUCTURE\",\"value\":"
     "{\"kind\":\"message\",\"type\":\"message\",\"subtype\":\"global\",\"params\":null,\"id\":"
     "null,\"description\":null,\"encoding\":\"8bit\",\"octets\":9,\"envelope\":{\"date\":null,"
     "\"subject\":null,\"from\":null,\"sender\":null,\"reply_to\":null,\"to\":null,\"cc\":null,"
     "\"bcc\":null,\"in_reply_to\":null,\"message_id\":null},\"body\":{\"kind\":\"text\",\"type\":"
     "\"text\",\"subtype\":\"plain\",\"params\":null,\"id\":null,\"description\":null,\"encoding\":"
     "\"8bit\",\"octets\":0,\"lines\":0},\"lines\":0}}]}\n"},
    {"* 1 FETCH (BODY[]<0> {5}\r\nhello BODY[HEADER.FIELDS (DATE FROM)] \"x\" BODY[1.2.MIME] NIL "
     "MODSEQ (12111230047) EMAILID (M6d99ac3275bb4e) THREADID NIL BINARY.SIZE[1] 3)\r\n",
     sizeof(
         "* 1 FETCH (BODY[]<0> {5}\r\nhello BODY[HEADER.FIELDS (DATE FROM)] \"x\" BODY[1.2.MIME] "
         "NIL MODSEQ (12111230047) EMAILID (M6d99ac3275bb4e) THREADID NIL BINARY.SIZE[1] 3)\r\n") -
         1,
     "0+166 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY[]<0>\",\"value\":"
     "\"hello\",\"section\":\"\",\"origin\":0},{\"name\":\"BODY[HEADER.FIELDS (DATE "
     "FROM)]\",\"value\":\"x\",\"section\":\"HEADER.FIELDS (DATE "
     "FROM)\"},{\"name\":\"BODY[1.2.MIME]\",\"value\":null,\"section\":\"1.2.MIME\"},{\"name\":"
     "\"MODSEQ\",\"value\":[12111230047]},{\"name\":\"EMAILID\",\"value\":[\"M6d99ac3275bb4e\"]},{"
     "\"name\":\"THREADID\",\"value\":null},{\"name\":\"BINARY.SIZE[1]\",\"value\":3,\"section\":"
     "\"1\"}]}\n"},
    {"* 7 FETCH (BODY[HEADER] {21}\r\nSubject: hi\r\nX: y\r\n\r\n UID 9)\r\n",
     sizeof("* 7 FETCH (BODY[HEADER] {21}\r\nSubject: hi\r\nX: y\r\n\r\n UID 9)\r\n") - 1,
     "0+60 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":7,\"attrs\":[{\"name\":\"BODY[HEADER]\",\"value\":"
     "\"Subject: hi\\r\\nX: "
     "y\\r\\n\\r\\n\",\"section\":\"HEADER\"},{\"name\":\"UID\",\"value\":9}]}\n"},
    {"* 8 FETCH (RFC822 {2}\r\n\r\n RFC822.HEADER \"\" RFC822.TEXT NIL BODY[TEXT]<4294967295> "
     "\"\")\r\n",
     sizeof("* 8 FETCH (RFC822 {2}\r\n\r\n RFC822.HEADER \"\" RFC822.TEXT NIL "
            "BODY[TEXT]<4294967295> \"\")\r\n") -
         1,
     "0+87 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":8,\"attrs\":[{\"name\":\"RFC822\",\"value\":"
     "\"\\r\\n\"},{\"name\":\"RFC822.HEADER\",\"value\":\"\"},{\"name\":\"RFC822.TEXT\",\"value\":"
     "null},{\"name\":\"BODY[TEXT]<4294967295>\",\"value\":\"\",\"section\":\"TEXT\",\"origin\":"
     "4294967295}]}\n"},
    {"* 9 FETCH (BINARY[1] ~{3}\r\na\x00"
     "b BINARY[] \"q\" BINARY[2]<7> NIL)\r\n",
     sizeof("* 9 FETCH (BINARY[1] ~{3}\r\na\x00"
            "b BINARY[] \"q\" BINARY[2]<7> NIL)\r\n") -
         1,
     "0+63 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":9,\"attrs\":[{\"name\":\"BINARY[1]\",\"value\":"
     "\"a\\u0000b\",\"section\":\"1\"},{\"name\":\"BINARY[]\",\"value\":\"q\",\"section\":\"\"},{"
     "\"name\":\"BINARY[2]<7>\",\"value\":null,\"section\":\"2\",\"origin\":7}]}\n"},
    {"* 10 FETCH (ENVELOPE (NIL \"\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
     sizeof("* 10 FETCH (ENVELOPE (NIL \"\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n") - 1,
     "0+64 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":10,\"attrs\":[{\"name\":\"ENVELOPE\",\"value\":{"
     "\"date\":null,\"subject\":\"\",\"from\":null,\"sender\":null,\"reply_to\":null,\"to\":null,"
     "\"cc\":null,\"bcc\":null,\"in_reply_to\":null,\"message_id\":null}}]}\n"},
    {"* 11 FETCH (ENVELOPE (\"d\" {7}\r\nsub\r\nj\r ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL "
     "\"<x>\" \"<y>\"))\r\n",
     sizeof("* 11 FETCH (ENVELOPE (\"d\" {7}\r\nsub\r\nj\r ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL "
            "NIL \"<x>\" \"<y>\"))\r\n") -
         1,
     "0+94 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":11,\"attrs\":[{\"name\":\"ENVELOPE\",\"value\":{"
     "\"date\":\"d\",\"subject\":\"sub\\r\\nj\\r\",\"from\":[{\"name\":null,\"adl\":null,"
     "\"mailbox\":\"a\",\"host\":\"b\"}],\"sender\":null,\"reply_to\":null,\"to\":null,\"cc\":null,"
     "\"bcc\":null,\"in_reply_to\":\"<x>\",\"message_id\":\"<y>\"}}]}\n"},
    {"* 12 FETCH (INTERNALDATE \" 7-jan-2024 23:59:59 +0000\" SAVEDATE NIL)\r\n",
     sizeof("* 12 FETCH (INTERNALDATE \" 7-jan-2024 23:59:59 +0000\" SAVEDATE NIL)\r\n") - 1,
     "0+69 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":12,\"attrs\":[{\"name\":\"INTERNALDATE\",\"value\":"
     "\" 7-jan-2024 23:59:59 +0000\"},{\"name\":\"SAVEDATE\",\"value\":null}]}\n"},
    {"* 13 FETCH (RFC822.SIZE 9223372036854775807)\r\n",
     sizeof("* 13 FETCH (RFC822.SIZE 9223372036854775807)\r\n") - 1,
     "0+46 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":13,\"attrs\":[{\"name\":\"RFC822.SIZE\",\"value\":"
     "9223372036854775807}]}\n"},
    {"* 14 FETCH (FLAGS (\\Seen $Forwarded \\Recent NonJunk))\r\n",
     sizeof("* 14 FETCH (FLAGS (\\Seen $Forwarded \\Recent NonJunk))\r\n") - 1,
     "0+55 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":14,\"attrs\":[{\"name\":\"FLAGS\",\"value\":["
     "\"\\\\Seen\",\"$Forwarded\",\"\\\\Recent\",\"NonJunk\"]}]}\n"},
    {"* 15 fetch (uid 5 flags (\\seen) body[header.fields.not (x)] \"\")\r\n",
     sizeof("* 15 fetch (uid 5 flags (\\seen) body[header.fields.not (x)] \"\")\r\n") - 1,
     "0+65 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":15,\"attrs\":[{\"name\":\"uid\",\"value\":5},{"
     "\"name\":\"flags\",\"value\":[\"\\\\seen\"]},{\"name\":\"body[header.fields.not "
     "(x)]\",\"value\":\"\",\"section\":\"header.fields.not (x)\"}]}\n"},
    {"* 16 FETCH (BODY[1.2.HEADER] NIL BODY[3.TEXT] NIL BODY[4] NIL)\r\n",
     sizeof("* 16 FETCH (BODY[1.2.HEADER] NIL BODY[3.TEXT] NIL BODY[4] NIL)\r\n") - 1,
     "0+64 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":16,\"attrs\":[{\"name\":\"BODY[1.2.HEADER]\","
     "\"value\":null,\"section\":\"1.2.HEADER\"},{\"name\":\"BODY[3.TEXT]\",\"value\":null,"
     "\"section\":\"3.TEXT\"},{\"name\":\"BODY[4]\",\"value\":null,\"section\":\"4\"}]}\n"},
    {"* 17 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
     "1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
     "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) "
     "\"MIXED\"))\r\n",
     sizeof("* 17 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL "
            "\"7BIT\" 1152 23)(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") "
            "\"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) "
            "\"MIXED\"))\r\n") -
         1,
     "0+233 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":17,\"attrs\":[{\"name\":\"BODYSTRUCTURE\","
     "\"value\":{\"type\":\"MULTIPART\",\"parts\":[{\"kind\":\"text\",\"type\":\"TEXT\","
     "\"subtype\":\"PLAIN\",\"params\":[[\"CHARSET\",\"US-ASCII\"]],\"id\":null,\"description\":"
     "null,\"encoding\":\"7BIT\",\"octets\":1152,\"lines\":23},{\"kind\":\"text\",\"type\":"
     "\"TEXT\",\"subtype\":\"PLAIN\",\"params\":[[\"CHARSET\",\"US-ASCII\"],[\"NAME\",\"cc.diff\"]]"
     ",\"id\":\"<960723163407.20117h@cac.washington.edu>\",\"description\":\"Compiler "
     "diff\",\"encoding\":\"BASE64\",\"octets\":4554,\"lines\":73}],\"subtype\":\"MIXED\"}}]}\n"},
    {"* 18 FETCH (PREVIEW \"Hi\" SAVEDATE \"01-Jan-2025 00:00:00 +0100\")\r\n",
     sizeof("* 18 FETCH (PREVIEW \"Hi\" SAVEDATE \"01-Jan-2025 00:00:00 +0100\")\r\n") - 1,
     "0+65 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":18,\"attrs\":[{\"name\":\"PREVIEW\",\"value\":"
     "\"Hi\"},{\"name\":\"SAVEDATE\",\"value\":\"01-Jan-2025 00:00:00 +0100\"}]}\n"},
};

static const struct rcase neg_cases[] = {
    {"* 0 FETCH (UID 1)\r\n", sizeof("* 0 FETCH (UID 1)\r\n") - 1,
     "0 ERR 2 RFC 9051 9 message-data: expected a non-zero number (nz-number)\n"},
    {"* 0 EXPUNGE\r\n", sizeof("* 0 EXPUNGE\r\n") - 1,
     "0 ERR 2 RFC 9051 9 message-data: expected a non-zero number (nz-number)\n"},
    {"* 1 FETCH (UID 0)\r\n", sizeof("* 1 FETCH (UID 0)\r\n") - 1,
     "0 ERR 15 RFC 9051 9 uniqueid: expected a non-zero number (nz-number)\n"},
    {"* SEARCH 0\r\n", sizeof("* SEARCH 0\r\n") - 1,
     "0 ERR 9 RFC 9051 9 mailbox-data: expected a non-zero number (nz-number)\n"},
    {"* 1 FETCH (FLAGS (\\Seen)\r\n", sizeof("* 1 FETCH (FLAGS (\\Seen)\r\n") - 1,
     "0 ERR 24 RFC 9051 9 msg-att: expected \")\"\n"},
    {"* 1 FETCH (FLAGS (\\Seen)))\r\n", sizeof("* 1 FETCH (FLAGS (\\Seen)))\r\n") - 1,
     "0 ERR 25 RFC 9051 9 CRLF: expected CRLF at the end of the response\n"},
    {"* 1 FETCH (BODY[] {10}\r\nabc)\r\n", sizeof("* 1 FETCH (BODY[] {10}\r\nabc)\r\n") - 1,
     "0 ERR 30 end of input: input ends inside a message\n"},
    {"* 1 FETCH (BODY[] {10}\r\n", sizeof("* 1 FETCH (BODY[] {10}\r\n") - 1,
     "0 ERR 24 end of input: input ends inside a message\n"},
    {"* LIST () \"ab\" INBOX\r\n", sizeof("* LIST () \"ab\" INBOX\r\n") - 1,
     "0 ERR 10 RFC 9051 9 mailbox-list: hierarchy delimiter must be exactly one character "
     "(QUOTED-CHAR)\n"},
    {"* LIST () \"\" INBOX\r\n", sizeof("* LIST () \"\" INBOX\r\n") - 1,
     "0 ERR 10 RFC 9051 9 mailbox-list: hierarchy delimiter must be exactly one character "
     "(QUOTED-CHAR)\n"},
    {"* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25\")\r\n",
     sizeof("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25\")\r\n") - 1,
     "0 ERR 45 RFC 9051 9 date-time: date-time without a zone (\"+hhmm\" or \"-hhmm\")\n"},
    {"* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 0700\")\r\n",
     sizeof("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 0700\")\r\n") - 1,
     "0 ERR 46 RFC 9051 9 date-time: expected a zone (\"+hhmm\" or \"-hhmm\")\n"},
    {"* 1 FETCH (INTERNALDATE \"17-Jux-1996 02:44:25 +0700\")\r\n",
     sizeof("* 1 FETCH (INTERNALDATE \"17-Jux-1996 02:44:25 +0700\")\r\n") - 1,
     "0 ERR 28 RFC 9051 9 date-time: expected a month name (Jan..Dec)\n"},
    {"* 1 FETCH (BODY[] {4294967296}\r\n", sizeof("* 1 FETCH (BODY[] {4294967296}\r\n") - 1,
     "0 ERR 19 RFC 9051 9 literal: literal size above 4294967295 (32-bit number)\n"},
    {"* OK a\rb\r\n", sizeof("* OK a\rb\r\n") - 1,
     "0 ERR 6 RFC 9051 4 CRLF: bare CR inside a line\n"},
    {"* OK a\nb\r\n", sizeof("* OK a\nb\r\n") - 1,
     "0 ERR 6 RFC 9051 4 CRLF: bare LF: lines end with CRLF\n"
     "7 ERR 8 RFC 9051 9 response: expected SP after the tag\n"},
    {"* LIST () \"/\" \"a\x00"
     "b\"\r\n",
     sizeof("* LIST () \"/\" \"a\x00"
            "b\"\r\n") -
         1,
     "0 ERR 16 RFC 9051 9 quoted: NUL in a quoted string\n"},
    {"* OK a\x00"
     "b\r\n",
     sizeof("* OK a\x00"
            "b\r\n") -
         1,
     "0 ERR 6 RFC 9051 9 resp-text: NUL in text\n"},
    {"* FLAGS (\\Se\xe9"
     "n)\r\n",
     sizeof("* FLAGS (\\Se\xe9"
            "n)\r\n") -
         1,
     "0 ERR 12 RFC 9051 9 flag: 8-bit byte in an atom (ATOM-CHAR is US-ASCII)\n"},
    {"* CAPABILITY IMAP4rev1 X\xff"
     "\r\n",
     sizeof("* CAPABILITY IMAP4rev1 X\xff"
            "\r\n") -
         1,
     "0 ERR 24 RFC 9051 9 capability-data: 8-bit byte in an atom (ATOM-CHAR is US-ASCII)\n"},
    {"* LIST () \"/\" x\xff"
     "y\r\n",
     sizeof("* LIST () \"/\" x\xff"
            "y\r\n") -
         1,
     "0 ERR 15 RFC 9051 9 mailbox: 8-bit byte in an atom (ATOM-CHAR is US-ASCII)\n"},
    {"* OK \xc3"
     "(\r\n",
     sizeof("* OK \xc3"
            "(\r\n") -
         1,
     "0 ERR 5 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n"},
    {"* 4294967296 EXISTS\r\n", sizeof("* 4294967296 EXISTS\r\n") - 1,
     "0 ERR 2 RFC 9051 9 number: number out of range\n"},
    {"* 1 FETCH (UID 4294967296)\r\n", sizeof("* 1 FETCH (UID 4294967296)\r\n") - 1,
     "0 ERR 15 RFC 9051 9 uniqueid: number out of range\n"},
    {"* 1 FETCH (RFC822.SIZE 9223372036854775808)\r\n",
     sizeof("* 1 FETCH (RFC822.SIZE 9223372036854775808)\r\n") - 1,
     "0 ERR 23 RFC 9051 9 msg-att-static: number out of range\n"},
    {"* OK [HIGHESTMODSEQ 9223372036854775808] x\r\n",
     sizeof("* OK [HIGHESTMODSEQ 9223372036854775808] x\r\n") - 1,
     "0 ERR 20 RFC 7162 7 mod-sequence-value: number out of range\n"},
    {"* LIST () \"/\" \"a\\b\"\r\n", sizeof("* LIST () \"/\" \"a\\b\"\r\n") - 1,
     "0 ERR 16 RFC 9051 9 quoted: only \\\" and \\\\ may be escaped in a quoted string\n"},
    {"* XYZZY foo\r\n", sizeof("* XYZZY foo\r\n") - 1,
     "0 ERR 2 RFC 9051 9 response: unknown untagged response\n"},
    {"a1 OK\r\n", sizeof("a1 OK\r\n") - 1,
     "0 ERR 5 RFC 9051 9 resp-text: expected SP before resp-text\n"},
    {"a1 PREAUTH x\r\n", sizeof("a1 PREAUTH x\r\n") - 1,
     "0 ERR 3 RFC 9051 9 resp-cond-state: expected OK, NO or BAD\n"},
    {"a1 BYE x\r\n", sizeof("a1 BYE x\r\n") - 1,
     "0 ERR 3 RFC 9051 9 resp-cond-state: expected OK, NO or BAD\n"},
    {"+x\r\n", sizeof("+x\r\n") - 1,
     "0 ERR 1 RFC 9051 7.5 continue-req: expected SP after \"+\"\n"},
    {"* OK [UIDNEXT 0] x\r\n", sizeof("* OK [UIDNEXT 0] x\r\n") - 1,
     "0 ERR 14 RFC 9051 9 resp-text-code: expected a non-zero number (nz-number)\n"},
    {"* OK [CAPABILITY FOO] x\r\n", sizeof("* OK [CAPABILITY FOO] x\r\n") - 1,
     "0 ERR 16 RFC 9051 9 capability-data: capability list without IMAP4rev1 or IMAP4rev2\n"},
    {"* CAPABILITY FOO\r\n", sizeof("* CAPABILITY FOO\r\n") - 1,
     "0 ERR 12 RFC 9051 9 capability-data: capability list without IMAP4rev1 or IMAP4rev2\n"},
    {"* OK [ALERT x] y\r\n", sizeof("* OK [ALERT x] y\r\n") - 1,
     "0 ERR 11 RFC 9051 9 resp-text-code: expected \"]\" after the response code\n"},
    {"* OK [READ-WRITE]\r\n", sizeof("* OK [READ-WRITE]\r\n") - 1,
     "0 ERR 17 RFC 9051 9 resp-text: expected SP after \"]\"\n"},
    {"* OK [COPYUID 1 1:* 2] x\r\n", sizeof("* OK [COPYUID 1 1:* 2] x\r\n") - 1,
     "0 ERR 18 RFC 9051 9 resp-code-copy: expected a number\n"},
    {"* 1 FETCH ()\r\n", sizeof("* 1 FETCH ()\r\n") - 1,
     "0 ERR 11 RFC 9051 9 msg-att: expected a FETCH attribute name\n"},
    {"* 1 FETCH (UID 1 )\r\n", sizeof("* 1 FETCH (UID 1 )\r\n") - 1,
     "0 ERR 17 RFC 9051 9 msg-att: expected a FETCH attribute name\n"},
    {"* 1 FETCH (UID  1)\r\n", sizeof("* 1 FETCH (UID  1)\r\n") - 1,
     "0 ERR 15 RFC 9051 9 uniqueid: expected a number\n"},
    {"* 1 FETCH (XUNKNOWN 1)\r\n", sizeof("* 1 FETCH (XUNKNOWN 1)\r\n") - 1,
     "0 ERR 11 RFC 9051 9 msg-att: unknown FETCH attribute\n"},
    {"* 1 FETCH (UID 1 BODY[] {3}\r\na\x00"
     "b)\r\n",
     sizeof("* 1 FETCH (UID 1 BODY[] {3}\r\na\x00"
            "b)\r\n") -
         1,
     "0 ERR 30 RFC 9051 9 literal: NUL in a literal (CHAR8 excludes it; only literal8 may hold "
     "it)\n"},
    {"* 1 FETCH (BODY[] ~{3}\r\nabc)\r\n", sizeof("* 1 FETCH (BODY[] ~{3}\r\nabc)\r\n") - 1,
     "0 ERR 18 RFC 9051 9 nstring: expected a string or NIL\n"},
    {"* 1 FETCH (BODY[0] NIL)\r\n", sizeof("* 1 FETCH (BODY[0] NIL)\r\n") - 1,
     "0 ERR 16 RFC 9051 9 section: expected a non-zero number (nz-number)\n"},
    {"* 1 FETCH (BODY[1.MIMEX] NIL)\r\n", sizeof("* 1 FETCH (BODY[1.MIMEX] NIL)\r\n") - 1,
     "0 ERR 22 RFC 9051 9 section: expected \"]\"\n"},
    {"* 1 FETCH (BINARY[TEXT] NIL)\r\n", sizeof("* 1 FETCH (BINARY[TEXT] NIL)\r\n") - 1,
     "0 ERR 18 RFC 9051 9 section-binary: expected a part number or \"]\"\n"},
    {"* 1 FETCH (UID[1] 2)\r\n", sizeof("* 1 FETCH (UID[1] 2)\r\n") - 1,
     "0 ERR 14 RFC 9051 9 msg-att: no section allowed after this attribute\n"},
    {"* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1))\r\n",
     sizeof("* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1))\r\n") - 1,
     "0 ERR 52 RFC 9051 9 SP: expected SP\n"},
    {"* 1 FETCH (BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) \"mixed\"))\r\n",
     sizeof("* 1 FETCH (BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) \"mixed\"))\r\n") - 1,
     "0+68 "
     "{\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"BODY\",\"value\":{"
     "\"type\":\"MULTIPART\",\"parts\":[{\"kind\":\"text\",\"type\":\"text\",\"subtype\":\"plain\","
     "\"params\":null,\"id\":null,\"description\":null,\"encoding\":\"7bit\",\"octets\":1,"
     "\"lines\":1}],\"subtype\":\"mixed\"}}]}\n"},
    {"* 1 FETCH (BODY (\"text\" \"plain\" (\"a\") NIL NIL \"7bit\" 1 1))\r\n",
     sizeof("* 1 FETCH (BODY (\"text\" \"plain\" (\"a\") NIL NIL \"7bit\" 1 1))\r\n") - 1,
     "0 ERR 36 RFC 9051 9 SP: expected SP\n"},
    {"* 1 FETCH (ENVELOPE (NIL NIL () NIL NIL NIL NIL NIL NIL NIL))\r\n",
     sizeof("* 1 FETCH (ENVELOPE (NIL NIL () NIL NIL NIL NIL NIL NIL NIL))\r\n") - 1,
     "0 ERR 30 RFC 9051 9 address: expected \"(\"\n"},
    {"* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"a\")) NIL NIL NIL NIL NIL NIL NIL))\r\n",
     sizeof("* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL \"a\")) NIL NIL NIL NIL NIL NIL NIL))\r\n") - 1,
     "0 ERR 42 RFC 9051 9 SP: expected SP\n"},
    {"* OK x {3}\r\nabc\r\n", sizeof("* OK x {3}\r\nabc\r\n") - 1,
     "0 ERR 10 RFC 9051 9 CRLF: bytes after CRLF (a line ending in {n} announces a literal)\n"},
    {"* STATUS x (FOO 1)\r\n", sizeof("* STATUS x (FOO 1)\r\n") - 1,
     "0 ERR 12 RFC 9051 9 status-att-val: unknown STATUS attribute\n"},
    {"* STATUS x (UIDNEXT 0)\r\n", sizeof("* STATUS x (UIDNEXT 0)\r\n") - 1,
     "0 ERR 20 RFC 9051 9 status-att-val: expected a non-zero number (nz-number)\n"},
    {"* NAMESPACE ((\"\" \"//\")) NIL NIL\r\n",
     sizeof("* NAMESPACE ((\"\" \"//\")) NIL NIL\r\n") - 1,
     "0 ERR 17 RFC 9051 9 namespace-descr: hierarchy delimiter must be one quoted character or "
     "NIL\n"},
    {"* NAMESPACE () NIL NIL\r\n", sizeof("* NAMESPACE () NIL NIL\r\n") - 1,
     "0 ERR 13 RFC 9051 9 namespace-descr: expected \"(\"\n"},
    {"* VANISHED (LATER) 1\r\n", sizeof("* VANISHED (LATER) 1\r\n") - 1,
     "0 ERR 11 RFC 7162 7 expunged-resp: expected (EARLIER)\n"},
    {"* ESEARCH MIN 1 UID\r\n", sizeof("* ESEARCH MIN 1 UID\r\n") - 1,
     "0 ERR 19 RFC 9051 9 SP: expected SP\n"},
    {"\r\n", sizeof("\r\n") - 1, "0 ERR 0 RFC 9051 9 tag: expected a tag, \"*\" or \"+\"\n"},
    {" a OK x\r\n", sizeof(" a OK x\r\n") - 1,
     "0 ERR 0 RFC 9051 9 tag: expected a tag, \"*\" or \"+\"\n"},
    {"* 1 FETCH (FLAGS (\\Seen)) extra\r\n", sizeof("* 1 FETCH (FLAGS (\\Seen)) extra\r\n") - 1,
     "0 ERR 25 RFC 9051 9 CRLF: expected CRLF at the end of the response\n"},
    {"* THREAD (3 (4))\r\n", sizeof("* THREAD (3 (4))\r\n") - 1,
     "0 ERR 12 RFC 5256 4 thread-nested: a nested thread has at least two branches\n"},
    {"* THREAD ()\r\n", sizeof("* THREAD ()\r\n") - 1,
     "0 ERR 10 RFC 5256 4 thread-members: expected a number\n"},
    {"* THREAD (0)\r\n", sizeof("* THREAD (0)\r\n") - 1,
     "0 ERR 10 RFC 5256 4 thread-members: expected a non-zero number (nz-number)\n"},
    {"* THREAD (1) (2)\r\n", sizeof("* THREAD (1) (2)\r\n") - 1,
     "0 ERR 12 RFC 9051 9 CRLF: expected CRLF at the end of the response\n"},
    {"* THREAD (1 )\r\n", sizeof("* THREAD (1 )\r\n") - 1,
     "0 ERR 12 RFC 5256 4 thread-members: expected a number\n"},
    {"* QUOTA \"\" (STORAGE 10)\r\n", sizeof("* QUOTA \"\" (STORAGE 10)\r\n") - 1,
     "0 ERR 22 RFC 9051 9 SP: expected SP\n"},
    {"* QUOTA \"\" STORAGE 1 2\r\n", sizeof("* QUOTA \"\" STORAGE 1 2\r\n") - 1,
     "0 ERR 11 RFC 9208 7 quota-list: expected \"(\"\n"},
    {"* QUOTAROOT\r\n", sizeof("* QUOTAROOT\r\n") - 1, "0 ERR 11 RFC 9051 9 SP: expected SP\n"},
    {"* SORT 0\r\n", sizeof("* SORT 0\r\n") - 1,
     "0 ERR 7 RFC 9051 9 mailbox-data: expected a non-zero number (nz-number)\n"},
    {"* QUOTA \"\" (STORAGE -1 2)\r\n", sizeof("* QUOTA \"\" (STORAGE -1 2)\r\n") - 1,
     "0 ERR 20 RFC 9208 7 resource-usage: expected a number\n"},
    {"* MYRIGHTS INBOX RW\r\n", sizeof("* MYRIGHTS INBOX RW\r\n") - 1,
     "0 ERR 17 RFC 4314 7 rights: rights are lower-case letters and digits\n"},
    {"* METADATA INBOX (/private/x)\r\n", sizeof("* METADATA INBOX (/private/x)\r\n") - 1,
     "0 ERR 28 RFC 9051 9 SP: expected SP\n"},
    {"* ACL INBOX a\r\n", sizeof("* ACL INBOX a\r\n") - 1, "0 ERR 13 RFC 9051 9 SP: expected SP\n"},
    {"* LISTRIGHTS INBOX smith\r\n", sizeof("* LISTRIGHTS INBOX smith\r\n") - 1,
     "0 ERR 24 RFC 9051 9 SP: expected SP\n"},
    {"* METADATA INBOX ()\r\n", sizeof("* METADATA INBOX ()\r\n") - 1,
     "0 ERR 18 RFC 5464 5 entry: expected an astring (atom, quoted or literal)\n"},
    {"* 1 FETCH (MODSEQ (0))\r\n", sizeof("* 1 FETCH (MODSEQ (0))\r\n") - 1,
     "0 ERR 19 RFC 7162 7 permsg-modsequence: expected a non-zero number (nz-number)\n"},
};

static void run_cases(const struct rcase *cs, size_t n)
{
    struct ms_limits lim;
    ms_limits_default(&lim);
    for (size_t i = 0; i < n; i++) {
        const char *got = ms_check(&ms_imap_replies_kind, &lim, cs[i].in, cs[i].len);
        if (strcmp(got, cs[i].out) != 0) {
            print_error("case %zu: %.*s\n--- expected\n%s--- got\n%s", i, (int)cs[i].len, cs[i].in,
                        cs[i].out, got);
            fail();
        }
    }
}

#define RUN(t) run_cases((t), sizeof(t) / sizeof((t)[0]))

static void test_status(void **st)
{
    (void)st;
    RUN(status_cases);
}

static void test_continuation(void **st)
{
    (void)st;
    RUN(cont_cases);
}

static void test_data(void **st)
{
    (void)st;
    RUN(data_cases);
}

static void test_fetch(void **st)
{
    (void)st;
    RUN(fetch_cases);
}

static void test_negative(void **st)
{
    (void)st;
    RUN(neg_cases);
}

static const char *check_lim(const struct ms_limits *lim, const char *in)
{
    return ms_check(&ms_imap_replies_kind, lim, in, strlen(in));
}

static char *deep_body(int levels)
{
    const char *pre = "* 1 FETCH (BODY (\"a\" \"b\" NIL NIL NIL \"7bit\" 1 NIL NIL NIL NIL ";
    size_t n = strlen(pre);
    char *s = malloc(n + 2 * (size_t)levels + 8);
    assert_non_null(s);
    memcpy(s, pre, n);
    for (int i = 0; i < levels; i++)
        s[n++] = '(';
    s[n++] = '1';
    for (int i = 0; i < levels + 2; i++)
        s[n++] = ')';
    memcpy(s + n, "\r\n", 3);
    return s;
}

/* Nesting: body-extension lists nest without bound in the grammar. */
static void test_depth(void **st)
{
    struct ms_limits lim;
    char in[512];
    (void)st;
    ms_limits_default(&lim);
    lim.imap_depth = 5;
    /* msg-att "(" = 1, body "(" = 2, then 3 extension levels = 5 */
    snprintf(in, sizeof(in),
             "* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL "
             "NIL NIL NIL (((1)))))\r\n");
    ms_assert_has(check_lim(&lim, in), "\"extensions\":[[[[1]]]]");
    snprintf(in, sizeof(in),
             "* 1 FETCH (BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1 NIL "
             "NIL NIL NIL ((((1))))))\r\n");
    assert_string_equal(check_lim(&lim, in),
                        "0 ERR 74 mailspec imap_depth: parentheses nested deeper than the "
                        "limit (imap_depth)\n");
    /* nested multiparts count too */
    lim.imap_depth = 4;
    const char *mp = "* 1 FETCH (BODY (((\"a\" \"b\" NIL NIL NIL \"7bit\" 1) \"x\") \"y\"))\r\n";
    ms_assert_has(check_lim(&lim, mp), "\"subtype\":\"y\"");
    lim.imap_depth = 3;
    assert_string_equal(check_lim(&lim, mp), "0 ERR 18 mailspec imap_depth: parentheses nested "
                                             "deeper than the limit (imap_depth)\n");
    /* default depth 32: msg-att and body use 2, so 30 extension levels fit, 31 do not */
    ms_limits_default(&lim);
    char *deep = deep_body(30);
    ms_assert_has(check_lim(&lim, deep), "{\"type\":\"fetch\"");
    free(deep);
    deep = deep_body(31);
    assert_string_equal(check_lim(&lim, deep), "0 ERR 92 mailspec imap_depth: parentheses nested "
                                               "deeper than the limit (imap_depth)\n");
    free(deep);
}

/* imap_items bounds the nodes of one response (the view's arena). */
static void test_items(void **st)
{
    struct ms_limits lim;
    (void)st;
    ms_limits_default(&lim);
    /* FLAGS list = 1 node + 3 flags */
    lim.imap_items = 4;
    ms_assert_has(check_lim(&lim, "* FLAGS (\\a \\b \\c)\r\n"), "\"flags\":[\"\\\\a\"");
    lim.imap_items = 3;
    assert_string_equal(check_lim(&lim, "* FLAGS (\\a \\b \\c)\r\n"),
                        "0 ERR 17 mailspec imap_items: more items in the response than the "
                        "limit (imap_items)\n");
    /* SEARCH numbers are one slice, not nodes: a long result is no overflow */
    lim.imap_items = 2;
    char big[4096];
    size_t k = (size_t)snprintf(big, sizeof(big), "* SEARCH");
    for (int i = 1; i <= 500; i++)
        k += (size_t)snprintf(big + k, sizeof(big) - k, " %d", i);
    memcpy(big + k, "\r\n", 3);
    ms_assert_has(check_lim(&lim, big), ",499,500]}");
    /* the arena's own capacity holds even when imap_items is larger */
    ms_limits_default(&lim);
    lim.imap_items = 1000000;
    size_t cap = 8 * MS_IMAP_NODES + 64;
    char *flags = malloc(cap);
    assert_non_null(flags);
    k = (size_t)snprintf(flags, cap, "* FLAGS (");
    for (int i = 0; i < MS_IMAP_NODES; i++)
        k += (size_t)snprintf(flags + k, cap - k, "%s\\f", i ? " " : "");
    memcpy(flags + k, ")\r\n", 4);
    ms_assert_has(check_lim(&lim, flags), "imap_items");
    free(flags);
}

/* Literal limits come from the framer; checked through the response kind. */
static void test_literal_limits(void **st)
{
    struct ms_limits lim;
    (void)st;
    ms_limits_default(&lim);
    lim.imap_literal = 5;
    ms_assert_has(check_lim(&lim, "* 1 FETCH (BODY[] {5}\r\nhello)\r\n"), "\"value\":\"hello\"");
    ms_assert_has(check_lim(&lim, "* 1 FETCH (BODY[] {6}\r\nhello!)\r\n"),
                  "0 ERR 19 RFC 9051 9 literal: literal larger than the limit\n");
    ms_limits_default(&lim);
    lim.imap_literal = UINT32_MAX;
    ms_assert_has(check_lim(&lim, "* 1 FETCH (BODY[] {4294967296}\r\n"),
                  "literal size above 4294967295");
    /* 2^32-1 is a number, but more than the default message limit */
    ms_assert_has(check_lim(&lim, "* 1 FETCH (BODY[] {4294967295}\r\n"),
                  "0 ERR 19 RFC 9051 9 literal: message with this literal is longer than the "
                  "limit\n");
}

static void test_lenient_unknown(void **st)
{
    (void)st;
    /* strict: an error; lenient: a raw view with a quirk, and a round trip */
    assert_string_equal(ms_check_str(&ms_imap_replies_kind, 0, "* XYZZY foo (bar)\r\n"),
                        "0 ERR 2 RFC 9051 9 response: unknown untagged response\n");
    assert_string_equal(ms_check_str(&ms_imap_replies_kind, MS_LENIENT_IMAP_UNKNOWN,
                                     "* XYZZY foo (bar)\r\n* 1 EXISTS\r\n"),
                        "0+19 {\"type\":\"unknown\",\"tag\":\"*\",\"raw\":\"XYZZY foo (bar)\","
                        "\"quirks\":[{\"offset\":2,\"rule\":\"RFC 9051 9 response\",\"reason\":"
                        "\"unknown untagged response accepted\"}]}\n"
                        "19+12 {\"type\":\"exists\",\"tag\":\"*\",\"count\":1}\n");
    /* known keywords with bad syntax stay errors under the flag */
    assert_string_equal(
        ms_check_str(&ms_imap_replies_kind, MS_LENIENT_IMAP_UNKNOWN, "* FLAGS x\r\n"),
        "0 ERR 8 RFC 9051 9 flag-list: expected \"(\"\n");
}

/*
 * The quoted-string scan reads 16 (SSE2) or 8 (SWAR) bytes at a time and the
 * last bytes of the response one by one: each special byte must be found at
 * every position of strings of every length up to 40, the string ending at
 * every distance from the end of the input (which ms_check puts against a
 * guard page), with the offsets a byte-by-byte scan gives.
 */
static const char quoted_pre[] = "* LIST () \"/\" \"";

/* pre, len bytes of 'a' with ins[0..nins) at k, then tail; returns ms_check's render */
static const char *quoted_case(size_t len, size_t k, const char *ins, size_t nins, const char *tail)
{
    static char in[128];
    struct ms_limits lim;
    size_t np = sizeof(quoted_pre) - 1, nt = strlen(tail);

    ms_limits_default(&lim);
    memcpy(in, quoted_pre, np);
    memset(in + np, 'a', len);
    memcpy(in + np + k, ins, nins);
    memcpy(in + np + len, tail, nt);
    return ms_check(&ms_imap_replies_kind, &lim, in, np + len + nt);
}

static void test_quoted_scan(void **st)
{
    const size_t np = sizeof(quoted_pre) - 1;
    char want[200];
    (void)st;
    for (size_t len = 0; len <= 40; len++) {
        ms_assert_lacks(quoted_case(len, 0, "", 0, "\"\r\n"), " ERR ");
        /* no closing quote: the scan stops at the CR */
        snprintf(want, sizeof(want), "0 ERR %zu RFC 9051 9 mailbox: CR or LF in a quoted string\n",
                 np + len);
        assert_string_equal(quoted_case(len, 0, "", 0, "\r\n"), want);
        for (size_t k = 0; k < len; k++) {
            snprintf(want, sizeof(want),
                     "0 ERR %zu RFC 9051 9 quoted: 8-bit byte in a quoted string that is not "
                     "UTF-8\n",
                     np + k);
            assert_string_equal(quoted_case(len, k, "\xff", 1, "\"\r\n"), want);
            snprintf(want, sizeof(want), "0 ERR %zu RFC 9051 9 quoted: NUL in a quoted string\n",
                     np + k);
            assert_string_equal(quoted_case(len, k, "\0", 1, "\"\r\n"), want);
            /* TEXT-CHARs that are neither letters nor special: no stop */
            ms_assert_lacks(quoted_case(len, k, "\x01", 1, "\"\r\n"), " ERR ");
            ms_assert_lacks(quoted_case(len, k, "\x7f", 1, "\"\r\n"), " ERR ");
            ms_assert_lacks(quoted_case(len, k, "\t", 1, "\"\r\n"), " ERR ");
            if (k + 1 < len) {
                ms_assert_lacks(quoted_case(len, k, "\\\"", 2, "\"\r\n"), " ERR ");
                ms_assert_lacks(quoted_case(len, k, "\\\\", 2, "\"\r\n"), " ERR ");
                ms_assert_lacks(quoted_case(len, k, "\xc3\xa9", 2, "\"\r\n"), " ERR ");
                snprintf(want, sizeof(want),
                         "0 ERR %zu RFC 9051 9 quoted: only \\\" and \\\\ may be escaped in a "
                         "quoted string\n",
                         np + k);
                assert_string_equal(quoted_case(len, k, "\\a", 2, "\"\r\n"), want);
                /* a lone UTF-8 lead byte followed by ASCII */
                snprintf(want, sizeof(want),
                         "0 ERR %zu RFC 9051 9 quoted: 8-bit byte in a quoted string that is "
                         "not UTF-8\n",
                         np + k);
                assert_string_equal(quoted_case(len, k, "\xc3", 1, "\"\r\n"), want);
            }
            /* an early DQUOTE ends the string: what follows is not SP or CRLF */
            if (k + 1 < len)
                ms_assert_has(quoted_case(len, k, "\"", 1, "\"\r\n"), " ERR ");
        }
    }
}

/* Common lenient flags: each accepted deviation is a quirk; strict is an error. */
static void test_lenient_flags(void **st)
{
    const struct ms_kind *k = &ms_imap_replies_kind;
    (void)st;
    /* trailing SP (seen from some servers after SEARCH results) */
    assert_string_equal(ms_check_str(k, 0, "* SEARCH 1 2 \r\n"),
                        "0 ERR 12 RFC 9051 9 CRLF: expected CRLF at the end of the response\n");
    assert_string_equal(ms_check_str(k, MS_LENIENT_SPACES, "* SEARCH 1 2 \r\n"),
                        "0+15 {\"type\":\"search\",\"tag\":\"*\",\"numbers\":[1,2],\"quirks\":"
                        "[{\"offset\":12,\"rule\":\"RFC 9051 9 CRLF\",\"reason\":\"trailing SP "
                        "before CRLF\"}]}\n");
    /* only trailing: a double SP inside stays an error */
    assert_string_equal(ms_check_str(k, MS_LENIENT_SPACES, "* SEARCH  1\r\n"),
                        "0 ERR 8 RFC 9051 9 CRLF: expected CRLF at the end of the response\n");
    /* "[CODE]" CRLF */
    assert_string_equal(ms_check_str(k, 0, "* OK [READ-WRITE]\r\n"),
                        "0 ERR 17 RFC 9051 9 resp-text: expected SP after \"]\"\n");
    assert_string_equal(
        ms_check_str(k, MS_LENIENT_SPACES, "* OK [READ-WRITE]\r\n"),
        "0+19 {\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"READ-WRITE\"},"
        "\"text\":\"\",\"quirks\":[{\"offset\":17,\"rule\":\"RFC 9051 9 resp-text\","
        "\"reason\":\"no SP after the response code \\\"]\\\"\"}]}\n");
    /* 8-bit bytes that are not UTF-8 (Latin-1 text) */
    assert_string_equal(ms_check_str(k, 0, "* OK caf\xe9\r\n"),
                        "0 ERR 8 RFC 9051 9 resp-text: 8-bit byte in text that is not UTF-8\n");
    assert_string_equal(ms_check_str(k, MS_LENIENT_8BIT, "* OK caf\xe9\r\n"),
                        "0+11 {\"type\":\"ok\",\"tag\":\"*\",\"text\":\"caf\\u00e9\",\"quirks\":"
                        "[{\"offset\":8,\"rule\":\"RFC 9051 9 resp-text\",\"reason\":\"8-bit byte "
                        "in text that is not UTF-8\"}]}\n");
    ms_assert_has(ms_check_str(k, MS_LENIENT_8BIT, "* LIST () \"/\" \"a\xff\"\r\n"),
                  "\"mailbox\":\"a\\u00ff\",\"quirks\":[{\"offset\":16,");
    /* the flags do not widen each other */
    ms_assert_has(ms_check_str(k, MS_LENIENT_8BIT, "* SEARCH 1 \r\n"), "ERR 10");
    ms_assert_has(ms_check_str(k, MS_LENIENT_SPACES, "* OK \xff\r\n"), "ERR 5");
    /* with quirks the writer gives the raw bytes back (checked by ms_check) */
    static struct ms_imap_response r;
    struct ms_limits lim;
    struct ms_error err;
    char out[64];
    ms_limits_default(&lim);
    lim.lenient = MS_LENIENT_SPACES;
    assert_int_equal(ms_imap_response_parse(&lim, "* 3 EXISTS \r\n", 13, &r, &err), 13);
    assert_int_equal(ms_imap_response_write(&r, out, sizeof(out)), 13);
    assert_memory_equal(out, "* 3 EXISTS \r\n", 13);
}

/* A Dovecot session's server side, as one stream. */
static void test_dovecot_stream(void **st)
{
    (void)st;
    const char *in =
        "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
        "AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
        "a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT "
        "SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND "
        "URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 "
        "CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY "
        "MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY] "
        "Logged in\r\n"
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
        "permitted.\r\n"
        "* 2 EXISTS\r\n"
        "* 0 RECENT\r\n"
        "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
        "* OK [UIDNEXT 3] Predicted next UID\r\n"
        "* OK [HIGHESTMODSEQ 4] Highest\r\n"
        "a2 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"
        "* 1 FETCH (UID 1 RFC822.SIZE 310 FLAGS (\\Seen) INTERNALDATE \"26-Nov-2026 13:00:00 "
        "+0000\" ENVELOPE (\"Thu, 26 Nov 2026 13:00:00 +0000\" \"hello\" ((\"Al\" NIL \"al\" "
        "\"example.org\")) ((\"Al\" NIL \"al\" \"example.org\")) ((\"Al\" NIL \"al\" "
        "\"example.org\")) ((NIL NIL \"bo\" \"example.org\")) NIL NIL NIL \"<1@example.org>\") "
        "BODYSTRUCTURE (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1 NIL "
        "NIL NIL NIL))\r\n"
        "* 2 FETCH (UID 2 BODY[TEXT] {6}\r\nhello\n)\r\n"
        "a3 OK Fetch completed (0.001 + 0.000 secs).\r\n"
        "+ idling\r\n"
        "* 3 EXISTS\r\n"
        "a4 OK Idle completed (0.001 + 1.000 secs).\r\n"
        "* BYE Logging out\r\n"
        "a5 OK Logout completed (0.001 + 0.000 secs).\r\n";
    const char *r = ms_check_str(&ms_imap_replies_kind, 0, in);
    assert_int_equal(ms_last_errors, 0);
    assert_int_equal(ms_last_messages, 18);
    ms_assert_has(r, "{\"name\":\"BODY[TEXT]\",\"value\":\"hello\\n\",\"section\":\"TEXT\"}");
    ms_assert_has(r, "\"type\":\"bye\"");
}

/* The public entry point: partial until a whole response, then its length. */
static void test_preview(void **st)
{
    (void)st;
    assert_string_equal(
        ms_check_str(&ms_imap_replies_kind, 0, "* 1 FETCH (UID 1 PREVIEW \"Hi there\")\r\n"),
        "0+38 {\"type\":\"fetch\",\"tag\":\"*\",\"seq\":1,\"attrs\":[{\"name\":\"UID\","
        "\"value\":1},{\"name\":\"PREVIEW\",\"value\":\"Hi there\"}]}\n");
    assert_string_equal(ms_check_str(&ms_imap_replies_kind, 0, "* 1 FETCH (PREVIEW x)\r\n"),
                        "0 ERR 19 RFC 9051 9 nstring: expected a string or NIL\n");
}

static void test_api(void **st)
{
    static struct ms_imap_response r;
    struct ms_limits lim;
    struct ms_error err = {0};
    const char *in = "* 1 FETCH (BODY[] {3}\r\nabc)\r\nXYZ";
    (void)st;
    ms_limits_default(&lim);
    for (size_t n = 0; n < 29; n++)
        assert_int_equal(ms_imap_response_parse(&lim, ms_guarded(in, n), n, &r, &err), MS_PARTIAL);
    assert_int_equal(ms_imap_response_parse(&lim, ms_guarded(in, 32), 32, &r, &err), 29);
    assert_int_equal(r.type, MS_IMAP_FETCH);
    assert_int_equal(r.number, 1);
    /* zero copy: the literal's slice points into the input */
    const struct ms_imap_node *list = &r.nodes[r.data];
    const struct ms_imap_node *attr = &r.nodes[list->child];
    const struct ms_imap_node *val = &r.nodes[r.nodes[attr->child].next];
    assert_int_equal(val->type, MS_IMAP_N_LITERAL);
    assert_int_equal(val->s.len, 3);
    assert_memory_equal(val->s.ptr, "abc", 3);
    char out[64];
    assert_int_equal(ms_imap_response_write(&r, out, sizeof(out)), 29);
    assert_memory_equal(out, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n", 29);
    assert_int_equal(ms_imap_response_write(&r, out, 28), MS_FAIL);
    /* an error reports the whole framed response as skip */
    const char *bad = "* 0 EXISTS x\r\n";
    assert_int_equal(ms_imap_response_parse(&lim, bad, strlen(bad), &r, &err), MS_FAIL);
    assert_int_equal(err.skip, strlen(bad));
    assert_int_equal(err.offset, 10);
    assert_string_equal(ms_imap_resp_type_name(MS_IMAP_ESEARCH), "esearch");
}

/* The code of every kind of error: syntax, each limit at and one over it,
 * truncated input. */
static const char *codes(const struct ms_limits *lim, const char *in)
{
    return ms_check_codes(&ms_imap_replies_kind, lim, in, strlen(in));
}

static void test_error_codes(void **st)
{
    struct ms_limits lim;
    (void)st;
    ms_limits_default(&lim);

    /* syntax */
    assert_string_equal(codes(&lim, "* FOO\r\n"), "syntax");
    assert_string_equal(codes(&lim, "* OK x\rx\r\n"), "syntax");
    /* truncated: inside a line, inside a literal */
    assert_string_equal(codes(&lim, "* OK x"), "truncated");
    assert_string_equal(codes(&lim, "* 1 FETCH (BODY[] {4}\r\nab"), "truncated");
    /* line, 10 bytes with CRLF */
    lim.imap_line = 10;
    assert_string_equal(codes(&lim, "* OK abc\r\n"), "");
    assert_string_equal(codes(&lim, "* OK abcd\r\n"), "limit");
    ms_limits_default(&lim);
    /* literal size; above 32 bits too */
    lim.imap_literal = 3;
    assert_string_equal(codes(&lim, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n"), "");
    assert_string_equal(codes(&lim, "* 1 FETCH (BODY[] {4}\r\n"), "limit");
    ms_limits_default(&lim);
    assert_string_equal(codes(&lim, "* 1 FETCH (BODY[] {4294967296}\r\n"), "limit");
    /* whole message */
    lim.imap_message = 29;
    assert_string_equal(codes(&lim, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n"), "");
    lim.imap_message = 28;
    assert_string_equal(codes(&lim, "* 1 FETCH (BODY[] {3}\r\nabc)\r\n"), "limit");
    ms_limits_default(&lim);
    /* nesting of parentheses */
    lim.imap_depth = 2;
    assert_string_equal(codes(&lim, "* 1 FETCH (FLAGS (\\Seen))\r\n"), "");
    lim.imap_depth = 1;
    assert_string_equal(codes(&lim, "* 1 FETCH (FLAGS (\\Seen))\r\n"), "limit");
    ms_limits_default(&lim);
    /* items (nodes) of one response: this one has 5 */
    lim.imap_items = 5;
    assert_string_equal(codes(&lim, "* 1 FETCH (FLAGS (\\Seen))\r\n"), "");
    lim.imap_items = 4;
    assert_string_equal(codes(&lim, "* 1 FETCH (FLAGS (\\Seen))\r\n"), "limit");
}

/* ESORT/CONTEXT return data (RFC 5267 4.3, 4.4; RFC 9394 3 negative ranges), the NOUPDATE
 * code (5267 4.2), CATENATE's TOOBIG and BADURL (4469 5), NOTIFY's NOTIFICATIONOVERFLOW and
 * BADEVENT (5465 8): accepted forms, then the ones the grammar refuses. */
static const struct rcase ext_cases[] = {
    /* NOTIFY MailboxName: LIST with the OLDNAME extended item (RFC 5465 5.4) */
    {"* LIST () \"/\" \"NewMailbox\" (\"OLDNAME\" (\"OldMailbox\"))\r\n",
     sizeof("* LIST () \"/\" \"NewMailbox\" (\"OLDNAME\" (\"OldMailbox\"))\r\n") - 1,
     "0+55 "
     "{\"type\":\"list\",\"tag\":\"*\",\"flags\":[],\"delimiter\":\"/"
     "\",\"mailbox\":\"NewMailbox\",\"extended\":[{\"name\":\"OLDNAME\",\"value\":[\"OldMailbox\"]}"
     "]}\n"},
    {"* ESEARCH (TAG \"B01\") UID ADDTO (0 32768:32769)\r\n",
     sizeof("* ESEARCH (TAG \"B01\") UID ADDTO (0 32768:32769)\r\n") - 1,
     "0+49 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"B01\",\"uid\":true,\"returns\":[{"
     "\"name\":\"ADDTO\",\"value\":[0,\"32768:32769\"]}]}\n"},
    {"* ESEARCH (TAG \"C01\") UID ADDTO (1 2733 1 2732 1 2731) REMOVEFROM (0 1)\r\n",
     sizeof("* ESEARCH (TAG \"C01\") UID ADDTO (1 2733 1 2732 1 2731) REMOVEFROM (0 1)\r\n") - 1,
     "0+73 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"C01\",\"uid\":true,\"returns\":[{"
     "\"name\":\"ADDTO\",\"value\":[1,\"2733\",1,\"2732\",1,\"2731\"]},{\"name\":\"REMOVEFROM\","
     "\"value\":[0,\"1\"]}]}\n"},
    {"* ESEARCH (TAG \"A01\") UID PARTIAL (-1:-100 200:250,300) COUNT 2\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID PARTIAL (-1:-100 200:250,300) COUNT 2\r\n") - 1,
     "0+65 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"A01\",\"uid\":true,\"returns\":[{"
     "\"name\":\"PARTIAL\",\"value\":[\"-1:-100\",\"200:250,300\"]},{\"name\":\"COUNT\",\"value\":"
     "2}]}\n"},
    {"* ESEARCH (TAG \"A01\") UID PARTIAL (1:100 NIL)\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID PARTIAL (1:100 NIL)\r\n") - 1,
     "0+47 "
     "{\"type\":\"esearch\",\"tag\":\"*\",\"correlator\":\"A01\",\"uid\":true,\"returns\":[{"
     "\"name\":\"PARTIAL\",\"value\":[\"1:100\",null]}]}\n"},
    {"a NO [BADEVENT (MessageNew MessageExpunge FlagChange)] no\r\n",
     sizeof("a NO [BADEVENT (MessageNew MessageExpunge FlagChange)] no\r\n") - 1,
     "0+59 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"BADEVENT\",\"args\":[[\"MessageNew\","
     "\"MessageExpunge\",\"FlagChange\"]]},\"text\":\"no\"}\n"},
    {"* OK [NOTIFICATIONOVERFLOW] too many\r\n",
     sizeof("* OK [NOTIFICATIONOVERFLOW] too many\r\n") - 1,
     "0+38 "
     "{\"type\":\"ok\",\"tag\":\"*\",\"code\":{\"name\":\"NOTIFICATIONOVERFLOW\"},\"text\":\"too "
     "many\"}\n"},
    {"a NO [TOOBIG] too big\r\n", sizeof("a NO [TOOBIG] too big\r\n") - 1,
     "0+23 {\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"TOOBIG\"},\"text\":\"too big\"}\n"},
    {"a NO [BADURL /INBOX;UIDVALIDITY=785799047/;UID=113330;section=1.5.9] CATENATE append has "
     "failed\r\n",
     sizeof("a NO [BADURL /INBOX;UIDVALIDITY=785799047/;UID=113330;section=1.5.9] CATENATE append "
            "has failed\r\n") -
         1,
     "0+97 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"BADURL\",\"args\":[\"/"
     "INBOX;UIDVALIDITY=785799047/;UID=113330;section=1.5.9\"]},\"text\":\"CATENATE append has "
     "failed\"}\n"},
    {"a NO [BADURL /INBOX/;UID=1\xc3"
     "\xa9"
     "] f\r\n",
     sizeof("a NO [BADURL /INBOX/;UID=1\xc3"
            "\xa9"
            "] f\r\n") -
         1,
     "0+33 "
     "{\"type\":\"no\",\"tag\":\"a\",\"code\":{\"name\":\"BADURL\",\"args\":[\"/INBOX/;UID=1\xc3"
     "\xa9"
     "\"]},\"text\":\"f\"}\n"},
    {"a OK [NOUPDATE \"B02\"] Too many contexts\r\n",
     sizeof("a OK [NOUPDATE \"B02\"] Too many contexts\r\n") - 1,
     "0+41 "
     "{\"type\":\"ok\",\"tag\":\"a\",\"code\":{\"name\":\"NOUPDATE\",\"args\":[\"B02\"]},\"text\":"
     "\"Too many contexts\"}\n"},
    {"* ESEARCH (TAG \"A01\") UID ADDTO (1)\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID ADDTO (1)\r\n") - 1,
     "0 ERR 34 RFC 9051 9 SP: expected SP\n"},
    {"* ESEARCH (TAG \"A01\") UID ADDTO ()\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID ADDTO ()\r\n") - 1,
     "0 ERR 33 RFC 5267 4.3 context-position: expected a number\n"},
    {"* ESEARCH (TAG \"A01\") UID REMOVEFROM (1 *)\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID REMOVEFROM (1 *)\r\n") - 1,
     "0 ERR 40 RFC 5267 4.3 ret-data-addto: expected a number\n"},
    {"* ESEARCH (TAG \"A01\") UID PARTIAL (1:-100 NIL)\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID PARTIAL (1:-100 NIL)\r\n") - 1,
     "0 ERR 37 RFC 5267 4.4 partial-range: a range from the start has no \"-\" on its end\n"},
    {"* ESEARCH (TAG \"A01\") UID PARTIAL (-1:100 NIL)\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID PARTIAL (-1:100 NIL)\r\n") - 1,
     "0 ERR 38 RFC 9394 3 partial-range-last: both ends of a negative range have \"-\"\n"},
    {"* ESEARCH (TAG \"A01\") UID PARTIAL (0:100 NIL)\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID PARTIAL (0:100 NIL)\r\n") - 1,
     "0 ERR 35 RFC 5267 4.4 partial-range: expected a non-zero number (nz-number)\n"},
    {"* ESEARCH (TAG \"A01\") UID PARTIAL (1:100)\r\n",
     sizeof("* ESEARCH (TAG \"A01\") UID PARTIAL (1:100)\r\n") - 1,
     "0 ERR 40 RFC 9051 9 SP: expected SP\n"},
    {"a NO [BADEVENT MessageNew] no\r\n", sizeof("a NO [BADEVENT MessageNew] no\r\n") - 1,
     "0 ERR 15 RFC 5465 8 unsupported-events-code: expected \"(\"\n"},
    {"a NO [BADEVENT ()] no\r\n", sizeof("a NO [BADEVENT ()] no\r\n") - 1,
     "0 ERR 16 RFC 5465 8 unsupported-events-code: expected an atom\n"},
    {"a NO [TOOBIG 10] too big\r\n", sizeof("a NO [TOOBIG 10] too big\r\n") - 1,
     "0 ERR 12 RFC 9051 9 resp-text-code: expected \"]\" after the response code\n"},
    {"* OK [NOTIFICATIONOVERFLOW x] too many\r\n",
     sizeof("* OK [NOTIFICATIONOVERFLOW x] too many\r\n") - 1,
     "0 ERR 26 RFC 9051 9 resp-text-code: expected \"]\" after the response code\n"},
    {"a NO [BADURL] f\r\n", sizeof("a NO [BADURL] f\r\n") - 1,
     "0 ERR 12 RFC 9051 9 SP: expected SP\n"},
    {"a OK [NOUPDATE B02] Too many contexts\r\n",
     sizeof("a OK [NOUPDATE B02] Too many contexts\r\n") - 1,
     "0 ERR 15 RFC 5267 4.2 resp-text-code: expected the search's tag, quoted\n"},
};

static void test_context_notify_codes(void **st)
{
    (void)st;
    RUN(ext_cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_data),
        cmocka_unit_test(test_fetch),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_literal_limits),
        cmocka_unit_test(test_lenient_unknown),
        cmocka_unit_test(test_dovecot_stream),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_lenient_flags),
        cmocka_unit_test(test_quoted_scan),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_context_notify_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
