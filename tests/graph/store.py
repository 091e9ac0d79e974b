"""State of the Graph emulator: users, ids, change counters and delta rounds.

Every stored item carries ``_seq``, the value of a server-wide change counter at
its last change. A delta round compares the items of a collection now with the
snapshot ``{id: seq}`` the client was given at the end of its previous round:
new or changed items come back whole, ids missing now come back as
``@removed``. That covers deletes, moves out of a folder and events leaving a
calendarView window alike.
"""

import base64
import datetime
import hashlib
import secrets
import threading
import uuid

WELL_KNOWN_FOLDERS = [
    ('inbox', 'Inbox'),
    ('drafts', 'Drafts'),
    ('sentitems', 'Sent Items'),
    ('deleteditems', 'Deleted Items'),
    ('junkemail', 'Junk Email'),
    ('outbox', 'Outbox'),
    ('archive', 'Archive'),
]

DEFAULT_PAGE = 10


def now_iso():
    """The current time as Graph prints it (UTC, seconds, Z)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def new_id(prefix='AAMkAG'):
    """An opaque Exchange-looking item id, safe in a URL path."""
    return prefix + secrets.token_urlsafe(24).replace('-', 'x').replace('_', 'y') + 'AAA='


class Store:
    """Everything the emulator knows; one lock serialises all access."""

    def __init__(self):
        self.lock = threading.RLock()
        self.seq = 0
        self.users = {}  # id -> user dict
        self.tokens = {}  # state token -> delta state
        self.outbound = []  # messages sent to addresses that are no local user

    # ------------------------------------------------------------ counters

    def bump(self, item):
        """Marks `item` changed: new seq, changeKey and lastModifiedDateTime."""
        self.seq += 1
        item['_seq'] = self.seq
        digest = hashlib.sha1(('%s:%d' % (item.get('id', ''), self.seq)).encode()).digest()
        item['changeKey'] = base64.b64encode(b'CQAAABYAAA' + digest[:12]).decode()
        item['lastModifiedDateTime'] = now_iso()
        item.setdefault('createdDateTime', item['lastModifiedDateTime'])
        return item

    # ------------------------------------------------------------ users

    def add_user(self, address, display_name=None):
        """Creates a user with a mailbox (well-known folders), a calendar,
        contacts and a default To Do list; returns it."""
        address = address.lower()
        existing = self.user(address)
        if existing:
            return existing
        local = address.split('@', 1)[0]
        name = display_name or local.capitalize()
        user = {
            'id': str(uuid.uuid4()),
            'displayName': name,
            'givenName': name.split(' ')[0],
            'surname': name.split(' ')[-1] if ' ' in name else None,
            'mail': address,
            'userPrincipalName': address,
            'businessPhones': [],
            'jobTitle': None,
            'mobilePhone': None,
            'officeLocation': None,
            'preferredLanguage': 'en-US',
            'mailNickname': local,
            'otherMails': [],
            'proxyAddresses': ['SMTP:' + address],
            '_root': new_id('AQMkAD'),
            '_folders': {},
            '_messages': {},
            '_events': {},
            '_contacts': {},
            '_contact_folder': new_id('AQMkAC'),
            '_lists': {},
            '_tasks': {},
        }
        for wk, title in WELL_KNOWN_FOLDERS:
            self.add_folder(user, title, wk)
        default = {'id': new_id('AQMkAT'), 'displayName': 'Tasks', 'isOwner': True, 'isShared': False,
                   'wellknownListName': 'defaultList'}
        self.bump(default)
        user['_lists'][default['id']] = default
        self.users[user['id']] = user
        return user

    def user(self, key):
        """The user with this id or address (case-insensitive), or None."""
        if key in self.users:
            return self.users[key]
        low = str(key).lower()
        for u in self.users.values():
            if u['mail'] == low or u['id'].lower() == low:
                return u
        return None

    @staticmethod
    def public_user(user):
        """The user as Graph returns it."""
        return {k: v for k, v in user.items() if not k.startswith('_')}

    # ------------------------------------------------------------ folders

    def add_folder(self, user, name, well_known=None):
        """Adds a top-level mail folder."""
        folder = {'id': new_id('AQMkAD'), 'displayName': name, 'parentFolderId': user['_root'],
                  'childFolderCount': 0, 'isHidden': False, '_wk': well_known}
        self.bump(folder)
        user['_folders'][folder['id']] = folder
        return folder

    def folder(self, user, key):
        """The folder with this id, well-known name or display name, or None."""
        if key in user['_folders']:
            return user['_folders'][key]
        low = str(key).lower()
        for f in user['_folders'].values():
            if f['_wk'] == low:
                return f
        for f in user['_folders'].values():
            if f['displayName'].lower() == low:
                return f
        return None

    # ------------------------------------------------------------ delta

    def delta_page(self, key, current, snapshot, page_size, params=None):
        """Starts a round: the changes between `snapshot` ({id: seq}, None for
        the initial round) and `current` ([(id, seq, json)]), cut into pages.
        Returns the first page and the token for the next one (skip) or the
        delta token (delta)."""
        changes = []
        now_snapshot = {}
        for item_id, seq, body in current:
            now_snapshot[item_id] = seq
            if snapshot is None or snapshot.get(item_id) != seq:
                changes.append(body)
        if snapshot is not None:
            for item_id in snapshot:
                if item_id not in now_snapshot:
                    changes.append({'id': item_id, '@removed': {'reason': 'deleted'}})
        return self._page(key, changes, now_snapshot, page_size, params or {})

    def _page(self, key, changes, snapshot, page_size, params):
        page, rest = changes[:page_size], changes[page_size:]
        token = secrets.token_urlsafe(18)
        state = {'key': key, 'snapshot': snapshot, 'params': params}
        if rest:
            self.tokens[token] = dict(state, kind='skip', rest=rest)
            return page, ('$skiptoken', token)
        self.tokens[token] = dict(state, kind='delta')
        return page, ('$deltatoken', token)

    def token_state(self, token, key):
        """The state behind a $skiptoken/$deltatoken of collection `key`, or
        None when the token is unknown or names another collection. A skip
        token is used up."""
        state = self.tokens.get(token)
        if not state or state['key'] != key:
            return None
        if state['kind'] == 'skip':
            self.tokens.pop(token, None)
        return state

    def continue_page(self, state, page_size):
        """The next page of a started round."""
        return self._page(state['key'], state['rest'], state['snapshot'], page_size, state['params'])

    def forget_tokens(self, user_id):
        """Drops every state token of a user's collections (a forced resync)."""
        for t in [t for t, s in self.tokens.items() if s['key'][1] == user_id]:
            del self.tokens[t]
