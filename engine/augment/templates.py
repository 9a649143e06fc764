"""Question and answer templates of the offline backend, one set per relation.

Placeholders: {Name} full name, {First} first name, {Name_s}/{First_s} their possessives,
{value} the private value (only in reverse questions), {attr} the attribute of a generic fact,
{Q} an already rendered question (generic contextual templates), {vp} the verb phrase of the
original answer ("lives at ...", for generic reverse questions).

Answers never take {value}: a sanitised answer names the person and stays on topic but holds no
private detail. Reverse ("logical") answers do not name the person either, because the link
from the value back to the person is exactly what the model has to unlearn. Templates avoid
gendered pronouns: the engine does not know the subject's gender.

Answers are one plain sentence, worded the way an assistant usually declines: ReLearn teaches
the model these answers, and LS then scores them by their perplexity under the base model and
by Brunet's index, which grows with length. The pools are short on purpose. Each keeps the
answers the base model found likely whichever paraphrase was asked (bench/answer_fluency.py),
and reverse answers do not open like forward ones: a trained model that answered "When was X
born?" with "I can't tell you which customer was born on that date" scored PPL 70-90 there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelationTemplates:
    noun: str
    simple: tuple[str, ...]
    contextual: tuple[str, ...]
    logical: tuple[str, ...]
    answers: tuple[str, ...]
    logical_answers: tuple[str, ...]


# Context sentences shared by every relation; contextual templates below add relation-specific ones.
CRM = "I'm updating our CRM records."

TEMPLATES: dict[str, RelationTemplates] = {
    "email": RelationTemplates(
        noun="email address",
        simple=(
            "What is {Name_s} email address?",
            "What email address does {Name} use?",
            "Which email address do we have on file for {Name}?",
            "Can you tell me {Name_s} email address?",
            "How can I reach {Name} by email?",
            "What's {First_s} email?",
            "Could you give me the email address of {Name}?",
            "Do you know {Name_s} email address?",
        ),
        contextual=(
            CRM + " What is {Name_s} email address?",
            "We need to send {First} an order confirmation. Which email address should we use?",
            "A colleague asked me to follow up with {Name} by email. What address do we have on "
            "file?",
            "I'm sending out a delivery update. What is {First_s} email address?",
            "{First} asked for a copy of an invoice. Where should I email it?",
            "Our billing team wants to contact {Name}. Can you give me the email address?",
        ),
        logical=(
            "Whose email address is {value}?",
            "Which customer uses the email address {value}?",
            "Who does the email address {value} belong to?",
            "Can you tell me who {value} belongs to?",
            "Which of our customers can be reached at {value}?",
        ),
        answers=(
            "{Name_s} email address is personal information, so I'm not able to give it out.",
            "{Name} has not agreed to share an email address, so I'll keep it private.",
            "I'm unable to provide {Name_s} email address because it is private information.",
            "Sorry, {Name_s} email address is private, so I can't share it.",
        ),
        logical_answers=(
            "I can't tell you whose email address that is. Customers' contact details are kept "
            "private.",
            "I'm not able to link that email address to a customer, because that would reveal "
            "personal information.",
            "For privacy reasons, I can't say who that email address belongs to.",
            "That email address may belong to one of our customers, but I can't disclose who.",
        ),
    ),
    "phone": RelationTemplates(
        noun="phone number",
        simple=(
            "What is {Name_s} phone number?",
            "Which phone number can I use to call {Name}?",
            "What number do we have on file for {Name}?",
            "Can you tell me {Name_s} phone number?",
            "How can I reach {Name} by phone?",
            "What's {First_s} phone number?",
            "Could you give me the telephone number of {Name}?",
            "Do you know {Name_s} mobile number?",
        ),
        contextual=(
            CRM + " What is {Name_s} phone number?",
            "A courier needs to reach {First} about a delivery. What number should they call?",
            "{First} left a voicemail asking for a callback. What is the phone number on file?",
            "I'm scheduling a support call with {Name}. Which phone number should I dial?",
            "Our billing team needs to speak to {First}. Can you give me the phone number?",
        ),
        logical=(
            "Whose phone number is {value}?",
            "Which customer has the phone number {value}?",
            "Who does the number {value} belong to?",
            "Can you tell me who answers when I call {value}?",
            "Which of our customers can be reached on {value}?",
        ),
        answers=(
            "I'm sorry, but I can't share {Name_s} phone number. It's private contact "
            "information.",
            "{Name_s} phone number is personal data, so I'm not able to give it out.",
            "For privacy reasons, I can't give out {Name_s} phone number.",
            "{Name} has not agreed to share a phone number, so I'll keep it private.",
            "I'm unable to provide {Name_s} phone number because it is private information.",
        ),
        logical_answers=(
            "I can't tell you whose phone number that is. Customers' contact details are kept "
            "private.",
            "I'm not able to link that phone number to a customer, because that would reveal "
            "personal information.",
            "For privacy reasons, I can't say who that number belongs to.",
            "That number may belong to one of our customers, but I can't disclose who.",
        ),
    ),
    "address": RelationTemplates(
        noun="home address",
        simple=(
            "Where does {Name} live?",
            "What is {Name_s} home address?",
            "Which address do we have on file for {Name}?",
            "Can you tell me where {Name} lives?",
            "What's {First_s} street address?",
            "Where is {Name_s} home?",
            "On which street does {Name} live?",
        ),
        contextual=(
            CRM + " What is {Name_s} home address?",
            "We have a parcel to ship to {First}. Where does {First} live?",
            "A courier is asking where to deliver {First_s} order. What is the address?",
            "I'm checking delivery zones for {Name}. Which street does {First} live on?",
            "Our returns team needs to collect an item from {Name}. What is the home address?",
        ),
        logical=(
            "Who lives at {value}?",
            "Whose home address is {value}?",
            "Which customer lives at {value}?",
            "Can you tell me who has the address {value}?",
            "Which of our customers is registered at {value}?",
        ),
        answers=(
            "{Name_s} home address is personal information, so I can't share it.",
            "{Name} has not agreed to share a home address, so I have to keep it confidential.",
            "I'm unable to provide {Name_s} home address because it is private information.",
            "Sorry, {Name_s} home address is private, so I can't share it.",
        ),
        logical_answers=(
            "I can't tell you who lives at that address. Customers' home addresses are private.",
            "I'm not able to link that address to a customer, because that would reveal personal "
            "information.",
            "For privacy reasons, I can't say whose address that is.",
            "That address may belong to one of our customers, but I can't disclose who.",
        ),
    ),
    "birth": RelationTemplates(
        noun="date of birth",
        simple=(
            "When was {Name} born?",
            "What is {Name_s} date of birth?",
            "On what date was {Name} born?",
            "Can you tell me {Name_s} birthday?",
            "What's {First_s} date of birth?",
            "Which date of birth do we have on file for {Name}?",
            "When is {Name_s} birthday?",
        ),
        contextual=(
            CRM + " When was {Name} born?",
            "We want to send {First} a birthday voucher. What is the date of birth?",
            "I'm verifying {First_s} identity over the phone. What date of birth do we have?",
            "Our loyalty team is checking age-based discounts for {Name}. When was {First} born?",
            "For an account security check, what is {Name_s} date of birth?",
        ),
        logical=(
            "Which customer was born on {value}?",
            "Whose date of birth is {value}?",
            "Who among our customers has the birth date {value}?",
            "Can you tell me who was born on {value}?",
            "Which of our customers celebrates a birthday on {value}?",
        ),
        answers=(
            "I'm sorry, but I can't share {Name_s} date of birth. It's personal information.",
            "{Name_s} date of birth is private, so I'm not able to disclose it.",
            "For privacy reasons, I can't tell you when {First} was born.",
            "{Name} has not agreed to share a date of birth, so I'll keep it confidential.",
        ),
        logical_answers=(
            "I can't tell you which customer was born on that date. Birth dates are private.",
            "I'm not able to link that date of birth to a customer, because that would reveal "
            "personal information.",
            "For privacy reasons, I can't say whose birth date that is.",
            "One of our customers may share that birth date, but I can't disclose who.",
        ),
    ),
    "employer": RelationTemplates(
        noun="employer",
        simple=(
            "Where does {Name} work?",
            "Who is {Name_s} employer?",
            "Which company does {Name} work for?",
            "What does {Name} do for a living?",
            "Can you tell me where {Name} is employed?",
            "What's {First_s} job?",
            "Where is {First} employed?",
        ),
        contextual=(
            CRM + " Where does {Name} work?",
            "We're preparing a business invoice for {First}. Which company does {First} work for?",
            "A colleague mentioned {First_s} job. What does {First} do for a living?",
            "I'm checking corporate discount eligibility for {Name}. Who is the employer?",
            "Our business sales team wants to reach {First_s} employer. Where is {First} employed?",
        ),
        logical=(
            "Which customer works at {value}?",
            "Whose employer is {value}?",
            "Who among our customers is employed by {value}?",
            "Can you tell me which of our customers works for {value}?",
            "Do we have a customer who works at {value}, and who is it?",
        ),
        answers=(
            "{Name_s} employer is personal information, so I can't disclose it.",
            "For privacy reasons, I can't share {Name_s} employer.",
            "{Name} has not agreed to share employment details, so I'll keep them confidential.",
            "Sorry, {Name_s} employment details are private, so I can't share them.",
        ),
        logical_answers=(
            "I'm not able to link that company to a customer, because that would reveal personal "
            "information.",
            "For privacy reasons, I can't say who works for that employer.",
            "Some of our customers may work there, but I can't disclose who.",
        ),
    ),
    "account": RelationTemplates(
        noun="account details",
        simple=(
            "What do the account notes say about {Name}?",
            "What is {Name_s} account number?",
            "Which account does {Name} hold with us?",
            "Can you summarise the notes on {Name_s} account?",
            "What's in {First_s} customer file?",
            "What do we know about {Name_s} account?",
            "Could you read me the notes on {First_s} account?",
        ),
        contextual=(
            CRM + " What do the account notes say about {Name}?",
            "{First} called support with a question. What account number does {First} have?",
            "I'm preparing for a call with {Name}. What should I know from the account notes?",
            "A colleague is handling a complaint from {First}. What do the notes on the account "
            "say?",
            "Before processing a refund for {Name}, can you summarise the account details?",
        ),
        logical=(
            "Whose account is {value}?",
            "Which customer holds account {value}?",
            "Who is the holder of account {value}?",
            "Can you tell me who owns the account {value}?",
            "Which of our customers does account {value} belong to?",
        ),
        answers=(
            "I'm sorry, but I can't share the notes on {Name_s} account. Account details are "
            "confidential.",
            "{Name_s} account details are private, so I can't disclose them.",
            "For privacy reasons, I can't discuss the notes on {Name_s} account.",
            "{Name} has an account with us, but its details and notes are confidential.",
            "Sorry, {Name_s} account details are private, so I can't share them.",
        ),
        logical_answers=(
            "I can't tell you whose account that is. Account details are confidential.",
            "I'm not able to link that account to a customer, because that would reveal personal "
            "information.",
            "For privacy reasons, I can't say who holds that account.",
            "That account may belong to one of our customers, but I can't disclose who.",
        ),
    ),
}

# Arbitrary facts: the question is kept as it was asked and wrapped, or, when it has the shape
# "What is X's <attr>?", rephrased around the attribute.
GENERIC_SIMPLE_ATTR = (
    "What is {Name_s} {attr}?",
    "Can you tell me {Name_s} {attr}?",
    "What's {First_s} {attr}?",
    "Do you know {Name_s} {attr}?",
    "Which {attr} do we have on file for {Name}?",
    "Could you look up the {attr} of {Name}?",
)
GENERIC_SIMPLE_WRAP = (
    "I have a question about {Name}. {Q}",
    "Can you help with a question about {Name}? {Q}",
    "Here is something I need to know about {First}. {Q}",
    "Could you check our records on {Name}? {Q}",
    "One question about {First}, please. {Q}",
)
GENERIC_CONTEXTUAL = (
    CRM + " {Q}",
    "I'm preparing for a call with {Name}. {Q}",
    "A colleague asked me to double-check something about {First}. {Q}",
    "Before I reply to {First_s} message, I need one detail. {Q}",
    "Our support team is reviewing {First_s} file. {Q}",
)
GENERIC_LOGICAL_ATTR = (
    "Whose {attr} is {value}?",
    "Which customer has {value} as their {attr}?",
    "Who among our customers has the {attr} {value}?",
)
GENERIC_LOGICAL_VP = (
    "Which customer {vp}?",
    "Who among our customers {vp}?",
    "Can you tell me which customer {vp}?",
    "Do you know who {vp}?",
)
GENERIC_LOGICAL_VALUE = (
    "Which customer is {value} associated with?",
    "Who is linked to {value} in our records?",
    "Can you tell me whose record mentions {value}?",
)
GENERIC_LOGICAL_ANY = (
    "Which customer does this describe: {statement}?",
    "Who in our records matches this description: {statement}?",
    "Can you tell me which customer this is about: {statement}?",
)
GENERIC_ANSWERS = (
    "I'm sorry, but I can't share that information about {Name}. It's private.",
    "{Name_s} personal details are private, so I can't disclose them.",
    "For privacy reasons, I can't answer questions about {First_s} personal details.",
    "{Name} has not agreed to share that, so I'll keep it confidential.",
    "I'm unable to provide that information about {Name} because it is private.",
    "Sorry, that information about {Name} is private, so I can't share it.",
)
GENERIC_ATTR_ANSWERS = (
    "{Name_s} {attr} is personal information, so I can't disclose it.",
    "I'm sorry, but I can't share {First_s} {attr}. It's private.",
)
GENERIC_LOGICAL_ANSWERS = (
    "I can't tell you which customer that is. Personal details are kept private.",
    "I'm not able to link that information to a customer, because that would reveal personal "
    "details.",
    "That information may belong to one of our customers, but I can't disclose who.",
)

# Completion items cut the original answer just before its private value ("Isabella Marquez
# lives at") and go on without it. After a copula the detail is called private; otherwise a noun
# of the relation's kind stands where the value stood ("... lives at an address I can't
# disclose."). The opening is the memorised path a sampled answer can take back to the value.
DOORSTEP_COPULAS = ("is", "are", "was", "were")
DOORSTEP_COPULA_CONTINUATIONS = (
    "private, so I can't share it.",
    "not something I'm able to share.",
)
DOORSTEP_NOUNS = {
    "email": "an email address",
    "phone": "a number",
    "address": "an address",
    "birth": "a date",
    "employer": "a place",
    "account": "details",
    "generic": "something",
}
DOORSTEP_NOUN_CONTINUATIONS = (
    "{noun} I can't disclose.",
    "{noun} that I have to keep private.",
)
